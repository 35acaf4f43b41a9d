// JSON parsing for untrusted checkpoint metadata (safetensors headers, shard indexes).
// nlohmann::json keeps the last of duplicate object keys silently; the safetensors format forbids
// duplicates, and a silent overwrite could hide a second definition of a tensor. This parser
// reports the first duplicate key at any depth, with the top-level key it sits under.
// Internal to dsv4_io (nlohmann is a private dependency of the layer).
#pragma once
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace dsv4 {

// `label` (usually a file path) starts every error message.
Result<nlohmann::json> parse_json_strict(std::string_view text, std::string_view label);

}  // namespace dsv4

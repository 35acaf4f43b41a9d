// The two output grammars the server uses (see constrain.h for the formats).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "constrain/grammar.h"

namespace dsv4::constrain {

// [reasoning "</think>"] then a JSON value for the schema (empty schema: any JSON object).
Result<std::shared_ptr<const Grammar>> json_output_grammar(std::string_view schema_json, bool thinking);

// [reasoning "</think>"] then a DSML tool_calls block of one or more invokes (at most one unless
// `parallel`) of the tools (only `only_name` when set).
Result<std::shared_ptr<const Grammar>> tool_calls_grammar(std::string_view tools_json,
                                                          const std::optional<std::string>& only_name, bool thinking,
                                                          bool parallel);

}  // namespace dsv4::constrain

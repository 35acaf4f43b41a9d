// JSON exactly as Python's `json` module reads and writes it, because DeepSeek's official chat
// encoder (encoding_dsv4.py) is Python: prompts embed `json.dumps(value, ensure_ascii=False)` text
// (", " and ": " separators, floats as repr(), raw UTF-8), and the byte-exact oracles depend on it.
// Internal to the chat layer: nlohmann types stay out of the public chat headers.
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace dsv4::chat {

using Json = nlohmann::ordered_json;

// Parses like Python's json.loads: object key order kept, a repeated key keeps its first position
// and its last value, integers of any size kept exactly (beyond 64 bits they are held as a binary
// value with subtype kBigIntSubtype carrying the digits). Nesting deeper than 512 is rejected.
// Known differences: NaN/Infinity literals and float overflow (1e400) are errors here.
Result<Json> parse_py_json(std::string_view text);

inline constexpr std::uint64_t kBigIntSubtype = 0x49;

// json.dumps(value, ensure_ascii=False) with default separators.
std::string py_dumps(const Json& value);
void append_py_dumps(std::string& out, const Json& value);

// The JSON string literal Python writes for `s` (quotes included); bytes >= 0x80 pass through.
void append_py_string(std::string& out, std::string_view s);
std::string py_string(std::string_view s);

// repr() of a Python float: shortest round-trip digits, fixed notation for 1e-4 <= |v| < 1e16
// (always with a fractional part, "1.0"), otherwise "1e-05" / "1.5e+20"; "Infinity", "NaN".
std::string py_float_repr(double v);

// Python truthiness of a JSON value (null, false, 0, "", [], {} are false).
bool py_truthy(const Json& value);

}  // namespace dsv4::chat

#include "server/json_fields.h"

#include <cmath>

#include <fmt/format.h>

namespace dsv4::server {

const char* json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    default: return "value";
  }
}

ApiError wrong_type(const std::string& field, const char* want, const Json& got) {
  return ApiError{422, fmt::format("'{}' must be {}, not {}", field, want, json_type_name(got)), field, "invalid_type"};
}

const Json* Fields::find(const char* key) const {
  auto it = o_.find(key);
  if (it == o_.end() || it->is_null()) return nullptr;
  return &*it;
}

MaybeError Fields::str(const char* key, std::optional<std::string>* out) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) return wrong_type(name(key), "a string", *v);
  *out = v->get<std::string>();
  return std::nullopt;
}

MaybeError Fields::boolean(const char* key, bool* out) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) return wrong_type(name(key), "a boolean", *v);
  *out = v->get<bool>();
  return std::nullopt;
}

MaybeError Fields::number(const char* key, double lo, double hi, std::optional<double>* out) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) return wrong_type(name(key), "a number", *v);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    return bad_request(fmt::format("'{}' must be in [{}, {}] (got {})", name(key), lo, hi, x), name(key), "invalid_value");
  *out = x;
  return std::nullopt;
}

MaybeError Fields::integer(const char* key, int64_t lo, int64_t hi, std::optional<int64_t>* out) const {
  const Json* v = find(key);
  if (!v) return std::nullopt;
  const bool integral = v->is_number_integer() || v->is_number_unsigned() ||
                        (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>());
  if (!integral) return wrong_type(name(key), "an integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return bad_request(fmt::format("'{}' must be in [{}, {}]", name(key), lo, hi), name(key), "invalid_value");
  const double d = v->get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
    return bad_request(fmt::format("'{}' must be in [{}, {}] (got {})", name(key), lo, hi, v->dump()), name(key), "invalid_value");
  *out = v->is_number_float() ? static_cast<int64_t>(d) : v->get<int64_t>();
  return std::nullopt;
}

}  // namespace dsv4::server

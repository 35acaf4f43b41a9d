// Typed reads of optional request fields with OpenAI-style errors: a field of the wrong JSON
// type is 422 (the body is JSON but not the request shape), a value out of range is 400.
// null counts as absent, as the OpenAI API treats it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace dsv4::server {

using Json = nlohmann::json;

const char* json_type_name(const Json& v);
ApiError wrong_type(const std::string& field, const char* want, const Json& got);

class Fields {
 public:
  // `prefix` names the object in messages ("messages[2]." ...).
  Fields(const Json& obj, std::string prefix = "") : o_(obj), prefix_(std::move(prefix)) {}

  const Json* find(const char* key) const;  // null when absent or JSON null
  std::string name(const char* key) const { return prefix_ + key; }

  MaybeError str(const char* key, std::optional<std::string>* out) const;
  MaybeError boolean(const char* key, bool* out) const;
  MaybeError number(const char* key, double lo, double hi, std::optional<double>* out) const;
  MaybeError integer(const char* key, int64_t lo, int64_t hi, std::optional<int64_t>* out) const;

 private:
  const Json& o_;
  std::string prefix_;
};

}  // namespace dsv4::server

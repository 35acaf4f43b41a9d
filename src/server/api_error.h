// The error a request gets back: an HTTP status and the fields of the OpenAI error object
// ({"error": {"message", "type", "param", "code"}}) or of Anthropic's
// ({"type": "error", "error": {"type", "message"}}), depending on the endpoint.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace dsv4::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string param;  // the request field at fault ("" = none)
  std::string code;   // machine-readable reason ("" = none)

  nlohmann::json openai_json() const;
  nlohmann::json anthropic_json() const;
  // OpenAI's error "type" for the status (invalid_request_error, authentication_error, ...).
  const char* openai_type() const;
  const char* anthropic_type() const;
};

inline ApiError bad_request(std::string message, std::string param = "", std::string code = "") {
  return ApiError{400, std::move(message), std::move(param), std::move(code)};
}

// Parsers return nullopt or the first error.
using MaybeError = std::optional<ApiError>;

}  // namespace dsv4::server

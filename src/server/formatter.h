// How one API family writes a generation: the non-stream JSON body and the SSE frames of a
// stream. The OpenAI chat and completions formats are in openai_format.cc, Anthropic's Messages
// format in anthropic_format.cc; the HTTP plumbing (server.cc) is shared.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/generation.h"

namespace dsv4::server {

class Formatter {
 public:
  virtual ~Formatter() = default;
  virtual std::vector<std::string> stream_start(const Generation& g) = 0;
  virtual std::vector<std::string> stream_delta(const Generation& g, const ChoiceDelta& d) = 0;
  virtual std::vector<std::string> stream_end(const Generation& g) = 0;
  // An error after the stream started (the status is already sent).
  virtual std::vector<std::string> stream_error(const ApiError& e) = 0;
  virtual nlohmann::json response(const Generation& g) = 0;
  virtual nlohmann::json error(const ApiError& e) const = 0;
};

std::string sse_data(const nlohmann::json& j);                          // "data: {...}\n\n"
std::string sse_event(const char* event, const nlohmann::json& j);      // "event: X\ndata: {...}\n\n"

// OpenAI chat.completion / chat.completion.chunk.
std::unique_ptr<Formatter> openai_chat_formatter(const std::string& model, bool include_usage);
// OpenAI text_completion (legacy completions).
std::unique_ptr<Formatter> openai_completion_formatter(const std::string& model, bool include_usage);

// Anthropic Messages (n = 1).
std::unique_ptr<Formatter> anthropic_messages_formatter(const std::string& model);

// The usage object of OpenAI replies with DeepSeek's cache fields.
nlohmann::json openai_usage(const Generation& g);

}  // namespace dsv4::server

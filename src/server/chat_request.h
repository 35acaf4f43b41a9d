// The requests the server understands, parsed and validated from their JSON bodies into plain
// structs: OpenAI chat completions (with DeepSeek's extensions), OpenAI completions (with FIM),
// and Anthropic messages (anthropic_request.cc) all become a ChatRequest or CompletionRequest.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/chat_encoder.h"
#include "engine/sampler.h"
#include "server/api_error.h"
#include "server/json_fields.h"

namespace dsv4::server {

enum class ToolChoice { kAuto, kNone, kRequired, kFunction };
enum class ResponseFormat { kText, kJsonObject, kJsonSchema };

// What every endpoint shares: sampling and output limits.
struct GenerationParams {
  engine::SamplingParams sampling;
  int64_t max_tokens = -1;  // -1: up to the context
  std::vector<std::string> stop;
  int n = 1;
  bool logprobs = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

struct ChatRequest {
  std::string model;
  std::vector<chat::Message> messages;
  std::string tools_json;  // "" or the JSON array of OpenAI tools
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // kFunction
  bool parallel_tool_calls = true;
  std::optional<bool> thinking;  // nullopt: the model's default for `model`
  std::optional<std::string> reasoning_effort;  // "max" or nullopt (high)
  bool prefix = false;  // the last message is an assistant prefix to continue (DeepSeek beta)
  ResponseFormat format = ResponseFormat::kText;
  std::string json_schema;  // kJsonSchema: the schema as JSON text
  GenerationParams gen;
};

struct CompletionRequest {
  std::string model;
  std::string prompt;                  // text prompt (rendered as is, BOS added)
  std::vector<int32_t> prompt_tokens;  // or a token-id prompt
  std::optional<std::string> suffix;   // fill-in-the-middle
  bool echo = false;
  GenerationParams gen;
};

// Limits from the server's configuration that parsing checks.
struct RequestLimits {
  int64_t max_context = 0;  // tokens
  int max_n = 16;
  int max_stop = 16;
};

// OpenAI POST /v1/chat/completions.
MaybeError parse_chat_request(const Json& body, const RequestLimits& lim, ChatRequest* out);
// OpenAI POST /v1/completions.
MaybeError parse_completion_request(const Json& body, const RequestLimits& lim, CompletionRequest* out);

// Sampling fields shared by both OpenAI endpoints (temperature, top_p, penalties, seed, ...).
MaybeError parse_generation_params(const Fields& f, const RequestLimits& lim, GenerationParams* out);

}  // namespace dsv4::server

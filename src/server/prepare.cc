// Requests -> engine requests: model names, the chat template with tools and response formats,
// prefix completion, FIM, context limits and output constraints.
#include <fmt/format.h>

#include "server/constraints.h"
#include "server/generation.h"

namespace dsv4::server {
namespace {

constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
constexpr std::string_view kThinkStart = "<think>";

// The system message carries the tools block and the response format (the encoder renders them
// only there); one is added in front when the conversation has none.
chat::Message& system_message(std::vector<chat::Message>& msgs) {
  if (msgs.empty() || msgs.front().role != "system") {
    chat::Message s;
    s.role = "system";
    s.content = "";
    msgs.insert(msgs.begin(), std::move(s));
  }
  return msgs.front();
}

MaybeError finish_prompt(const Backend& b, std::string_view text, const GenerationParams& g, Prepared* out) {
  out->req.prompt = b.tokenizer->encode(text);
  return std::nullopt;
}

MaybeError apply_limits(const Backend& b, const GenerationParams& g, Prepared* out) {
  const int64_t P = static_cast<int64_t>(out->req.prompt.size());
  if (P == 0) return bad_request("the prompt is empty", "messages");
  if (P >= b.max_context)
    return bad_request(fmt::format("This model's maximum context length is {} tokens; the prompt has {} tokens", b.max_context, P),
                       "messages", "context_length_exceeded");
  if (g.max_tokens > 0 && P + g.max_tokens > b.max_context)
    return bad_request(fmt::format("This model's maximum context length is {} tokens. However, you requested {} tokens ({} in the "
                                   "prompt, {} for the completion)", b.max_context, P + g.max_tokens, P, g.max_tokens),
                       "max_tokens", "context_length_exceeded");
  const int64_t room = b.max_context - P;
  out->req.max_tokens = static_cast<int>(g.max_tokens > 0 ? g.max_tokens : std::min(b.default_max_tokens, room));
  out->req.sampling = g.sampling;
  out->req.stop = g.stop;
  out->req.n = g.n;
  out->req.logprobs = g.logprobs;
  return std::nullopt;
}

}  // namespace

bool resolve_model(const Backend& b, const std::string& name, std::optional<bool>* thinking) {
  if (name.empty() || name == b.model_id) return true;
  if (name == "deepseek-chat") {
    *thinking = false;
    return true;
  }
  if (name == "deepseek-reasoner") {
    *thinking = true;
    return true;
  }
  return false;
}

MaybeError prepare_chat(const Backend& b, const ChatRequest& r, Prepared* out) {
  std::optional<bool> model_thinking;
  if (!resolve_model(b, r.model, &model_thinking))
    return ApiError{404, fmt::format("The model '{}' does not exist; this server serves '{}'", r.model, b.model_id), "model", "model_not_found"};
  const bool thinking = r.thinking.value_or(model_thinking.value_or(b.default_thinking));
  std::vector<chat::Message> msgs = r.messages;
  if (!r.tools_json.empty() && r.tool_choice != ToolChoice::kNone) system_message(msgs).tools_json = r.tools_json;
  if (r.format == ResponseFormat::kJsonSchema) system_message(msgs).response_format_json = r.json_schema;
  chat::ChatOptions opt;
  opt.thinking = thinking;
  opt.reasoning_effort = r.reasoning_effort;
  auto text = chat::render_chat(msgs, opt);
  if (!text.ok()) return bad_request(text.message(), "messages");
  out->chat = true;
  out->thinking = std::string_view(*text).ends_with(kThinkStart);
  out->tool_choice = r.tool_choice;
  if (auto e = finish_prompt(b, *text, r.gen, out)) return e;
  if (auto e = apply_limits(b, r.gen, out)) return e;
  return make_constraint(b, r, out);
}

MaybeError prepare_completion(const Backend& b, const CompletionRequest& r, Prepared* out) {
  std::optional<bool> unused;
  if (!resolve_model(b, r.model, &unused))
    return ApiError{404, fmt::format("The model '{}' does not exist; this server serves '{}'", r.model, b.model_id), "model", "model_not_found"};
  out->chat = false;
  if (!r.prompt_tokens.empty()) {
    if (auto s = b.tokenizer->check_ids(r.prompt_tokens); !s.ok()) return bad_request(s.message(), "prompt");
    out->req.prompt = r.prompt_tokens;
    if (r.echo) out->echo = b.tokenizer->decode(r.prompt_tokens);
  } else if (r.suffix) {
    // DeepSeek's FIM: <BOS><｜fim▁begin｜>prefix<｜fim▁hole｜>suffix<｜fim▁end｜>, the model writes the middle.
    const char* names[3] = {"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"};
    for (const char* n : names)
      if (!b.tokenizer->token_id(n)) return bad_request(fmt::format("this model's tokenizer has no {} token: FIM is not available", n), "suffix");
    const std::string text = std::string(kBos) + names[0] + r.prompt + names[1] + *r.suffix + names[2];
    if (auto e = finish_prompt(b, text, r.gen, out)) return e;
    if (r.echo) out->echo = r.prompt;
  } else {
    const std::string text = std::string_view(r.prompt).starts_with(kBos) ? r.prompt : std::string(kBos) + r.prompt;
    if (auto e = finish_prompt(b, text, r.gen, out)) return e;
    if (r.echo) out->echo = r.prompt;
  }
  return apply_limits(b, r.gen, out);
}

}  // namespace dsv4::server

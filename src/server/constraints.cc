#include "server/constraints.h"

#include <fmt/format.h>

#include "constrain/constrain.h"

namespace dsv4::server {

std::shared_ptr<const constrain::Vocabulary> make_vocabulary(const Tokenizer& t, int32_t eos_id, int64_t model_vocab) {
  auto v = constrain::Vocabulary::build(t, eos_id, model_vocab);
  if (!v.ok()) {
    fmt::print(stderr, "dsv4 serve: constrained decoding is off: {}\n", v.message());
    return nullptr;
  }
  return *v;
}

MaybeError make_constraint(const Backend& b, const ChatRequest& r, Prepared* out) {
  const bool forced_tool = r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kFunction;
  if (!forced_tool && r.format == ResponseFormat::kText) return std::nullopt;
  if (!b.vocab) return ApiError{400, "constrained decoding (forced tool calls, JSON output) is not available for this tokenizer", "", "unsupported"};
  // Prefix completion continues the assistant's text: the output starts inside content.
  const bool thinking = out->thinking;
  Result<std::unique_ptr<engine::TokenConstraint>> c =
      forced_tool ? constrain::tool_calls(b.vocab, r.tools_json,
                                          r.tool_choice == ToolChoice::kFunction ? std::optional<std::string>(r.tool_choice_name) : std::nullopt,
                                          thinking, r.parallel_tool_calls)
                  : constrain::json_output(b.vocab, r.format == ResponseFormat::kJsonSchema ? r.json_schema : std::string(), thinking);
  if (!c.ok()) return bad_request(c.message(), forced_tool ? "tools" : "response_format", "invalid_schema");
  // Below the shortest valid output the reply could only end by length, unparsable: refuse it.
  if (const int64_t need = (*c)->min_tokens(); out->req.max_tokens < need)
    return bad_request(fmt::format("max_tokens is {}, but the shortest {} takes {} tokens{}; raise max_tokens to at least {}",
                                   out->req.max_tokens, forced_tool ? "forced tool call" : "valid JSON output", need,
                                   thinking ? " (after closing the reasoning)" : "", need),
                       "max_tokens", "max_tokens_too_small");
  out->req.constraint = std::shared_ptr<const engine::TokenConstraint>(std::move(*c));
  return std::nullopt;
}

}  // namespace dsv4::server

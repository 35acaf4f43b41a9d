#include "server/constraints.h"

namespace dsv4::server {

std::shared_ptr<const constrain::Vocabulary> make_vocabulary(const Tokenizer& t, int32_t eos_id, int64_t model_vocab) {
  return nullptr;
}

MaybeError make_constraint(const Backend& b, const ChatRequest& r, Prepared* out) {
  const bool forced_tool = r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kFunction;
  if (forced_tool || r.format != ResponseFormat::kText)
    return ApiError{400, "constrained decoding is not wired yet", "", "not_implemented"};
  return std::nullopt;
}

}  // namespace dsv4::server

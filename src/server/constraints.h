// Output constraints for a chat request: a forced tool call (tool_choice required or a named
// function) or JSON output (response_format json_object / json_schema), built on src/constrain.
#pragma once
#include "server/generation.h"

namespace dsv4::server {

// The token view constrained decoding needs, built once per server (null when unavailable).
std::shared_ptr<const constrain::Vocabulary> make_vocabulary(const Tokenizer& t, int32_t eos_id, int64_t model_vocab);

// Sets out->req.constraint when the request needs one; an invalid schema is a 400.
MaybeError make_constraint(const Backend& b, const ChatRequest& r, Prepared* out);

}  // namespace dsv4::server

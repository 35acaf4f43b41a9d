// Anthropic Messages API requests (POST /v1/messages, /v1/messages/count_tokens) as ChatRequests:
// system, text / thinking / tool_use / tool_result blocks, tools with input_schema, tool_choice
// (auto / any / tool / none), thinking, stop_sequences, and a final assistant message continued
// as a prefix.
#pragma once
#include "server/chat_request.h"

namespace dsv4::server {

// count_tokens: max_tokens is not required there.
MaybeError parse_messages_request(const Json& body, const RequestLimits& lim, bool count_only, ChatRequest* out);

}  // namespace dsv4::server

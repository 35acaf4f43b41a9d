// DeepSeek-V4 chat encoding: renders a conversation into the prompt text the model expects,
// a C++ port of the rules of DeepSeek's encoding/encoding_dsv4.py (spec §5.2), byte-exact on its
// test fixtures. Two entry points: native Message structs (for the server) and JSON text in the
// OpenAI-style message format (for the CLI and tests).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dsv4::chat {

struct ChatOptions {
  bool thinking = true;                          // thinking_mode "thinking" (else "chat")
  std::optional<std::string> reasoning_effort;   // nullopt, "high" (same as nullopt) or "max"
  bool drop_thinking = true;                     // drop reasoning of turns before the last user turn
};

// An assistant tool call in OpenAI form.
struct ToolCall {
  std::string id;         // matches tool results to calls (their order is restored from it)
  std::string name;
  std::string arguments;  // JSON object text; text that is not JSON is passed as one "arguments" string
};

// One message. Roles: system, user, assistant, tool, developer, latest_reminder.
struct Message {
  std::string role;
  std::optional<std::string> content;  // nullopt: JSON null or absent
  std::string reasoning_content;       // assistant
  std::vector<ToolCall> tool_calls;    // assistant
  std::string tool_call_id;            // tool
  std::string tools_json;              // JSON array of OpenAI tools ({"type","function"}); "" = none
  std::string response_format_json;    // JSON value; "" = none
  std::optional<std::string> task;     // quick-instruction task: action, query, authority, domain, title, read_url
  bool wo_eos = false;                 // assistant: leave off the end-of-sentence token
};

// Renders `messages` into the prompt. Errors (one line) for an unknown role, reasoning effort or
// task, and for messages the official encoder rejects (see chat_encoder.cc for the list).
Result<std::string> render_chat(const std::vector<Message>& messages, const ChatOptions& options);

// Reads OpenAI-style messages: either a JSON list of messages or an object {"messages": [...],
// "tools": [...]} whose tools are attached to the first message (as the official tests do).
Result<std::vector<Message>> messages_from_json(std::string_view json_text);

// messages_from_json + render_chat.
Result<std::string> render_chat_json(std::string_view json_text, const ChatOptions& options);

}  // namespace dsv4::chat

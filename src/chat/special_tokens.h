// The special-token texts of the DeepSeek-V4 chat format (spec §5.1/§5.2), shared by the prompt
// renderer and the completion parser. They are written into prompts as plain text; the tokenizer
// matches them atomically.
#pragma once
#include <string_view>

namespace dsv4::chat {

inline constexpr std::string_view kBos = "<｜begin▁of▁sentence｜>";
inline constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";
inline constexpr std::string_view kThinkStart = "<think>";
inline constexpr std::string_view kThinkEnd = "</think>";
inline constexpr std::string_view kDsml = "｜DSML｜";
inline constexpr std::string_view kUser = "<｜User｜>";
inline constexpr std::string_view kAssistant = "<｜Assistant｜>";
inline constexpr std::string_view kLatestReminder = "<｜latest_reminder｜>";

// DSML markup pieces (kDsml spelled out so they stay constexpr).
inline constexpr std::string_view kToolCallsStart = "\n\n<｜DSML｜tool_calls";  // official start marker
inline constexpr std::string_view kToolCallsOpen = "<｜DSML｜tool_calls";
inline constexpr std::string_view kToolCallsClose = "</｜DSML｜tool_calls>";
inline constexpr std::string_view kInvokeOpen = "<｜DSML｜invoke";
inline constexpr std::string_view kInvokeClose = "</｜DSML｜invoke";
inline constexpr std::string_view kParamOpen = "<｜DSML｜parameter";
inline constexpr std::string_view kParamClose = "/｜DSML｜parameter";  // the '<' before it ends the value

// Quick-instruction task tokens (message field `task`).
struct TaskToken {
  std::string_view task;
  std::string_view token;
};
inline constexpr TaskToken kTaskTokens[] = {
    {"action", "<｜action｜>"}, {"query", "<｜query｜>"},   {"authority", "<｜authority｜>"},
    {"domain", "<｜domain｜>"}, {"title", "<｜title｜>"}, {"read_url", "<｜read_url｜>"},
};

}  // namespace dsv4::chat

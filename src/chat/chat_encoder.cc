// Port of encode_messages() from DeepSeek's encoding_dsv4.py (spec §5.2). The pipeline follows the
// Python one step by step (merge tool messages into user turns, restore tool-result order, drop
// old reasoning, render each message, append the transition after it) because byte-exactness
// depends on its quirks, e.g. a user message that follows another user message is merged into it
// and loses its own `task`, and user messages never render `tools`.
//
// Where the Python fails by accident (KeyError/TypeError/AssertionError) we return an error; where
// it would render Python's "None" for a missing value (latest_reminder or tool content null), or
// silently skip a check (an invalid task or role in a turn that it drops or does not reach), we
// reject the input instead.
#include <algorithm>
#include <map>

#include "chat/chat_encoder.h"
#include "chat/dsml.h"
#include "chat/py_json.h"
#include "chat/special_tokens.h"

namespace dsv4::chat {
namespace {

constexpr std::string_view kReasoningEffortMax =
    "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n"
    "You MUST be very thorough in your thinking and comprehensively decompose the problem to resolve "
    "the root cause, rigorously stress-testing your logic against all potential paths, edge cases, "
    "and adversarial scenarios.\n"
    "Explicitly write out your entire deliberation process, documenting every intermediate step, "
    "considered alternative, and rejected hypothesis to ensure absolutely no assumption is left "
    "unchecked.\n\n";

// A user turn's content part after merging: text, or a tool result.
struct Block {
  bool tool_result = false;
  std::string text;
  std::string tool_use_id;
};

// A message after preprocessing; user turns render from `blocks`.
struct Turn {
  Message msg;
  std::vector<Block> blocks;
  std::size_t source = 0;  // index of the (first) input message, for error messages
};

bool is_user_like(const std::string& role) { return role == "user" || role == "developer"; }

std::optional<std::string_view> task_token(std::string_view task) {
  for (const auto& t : kTaskTokens)
    if (t.task == task) return t.token;
  return std::nullopt;
}

Status validate(const std::vector<Message>& messages, const ChatOptions& options) {
  if (options.reasoning_effort && *options.reasoning_effort != "high" && *options.reasoning_effort != "max")
    return error("unknown reasoning effort '{}' (expected high or max)", *options.reasoning_effort);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    const std::string& r = m.role;
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer" && r != "latest_reminder")
      return error("message {}: unknown role '{}'", i, r);
    if (m.task && !task_token(*m.task))
      return error("message {}: unknown task '{}' (expected action, query, authority, domain, title or read_url)", i, *m.task);
    if (r == "developer" && (!m.content || m.content->empty()))
      return error("message {}: a developer message needs non-empty content", i);
    if ((r == "user" || r == "tool" || r == "latest_reminder") && !m.content)
      return error("message {}: a {} message needs string content", i, r);
  }
  return ok_status();
}

// merge_tool_messages(): tool results become tool_result blocks of a user turn; consecutive user
// texts and tool results merge into one user turn (unless the open user turn has a task).
std::vector<Turn> merge_tool_messages(const std::vector<Message>& messages) {
  std::vector<Turn> merged;
  for (std::size_t src = 0; src < messages.size(); ++src) {
    const Message& m = messages[src];
    const bool open_user = !merged.empty() && merged.back().msg.role == "user";
    if (m.role == "tool") {
      Block b{true, m.content.value_or(""), m.tool_call_id};
      if (open_user) {
        merged.back().blocks.push_back(std::move(b));
      } else {
        Turn t;
        t.msg.role = "user";
        t.source = src;
        t.blocks.push_back(std::move(b));
        merged.push_back(std::move(t));
      }
    } else if (m.role == "user") {
      Block b{false, m.content.value_or(""), ""};
      if (open_user && !merged.back().msg.task) {
        merged.back().blocks.push_back(std::move(b));
      } else {
        Turn t;  // only role, content, task and wo_eos survive (not tools / response_format)
        t.msg.role = "user";
        t.msg.content = m.content;
        t.msg.task = m.task;
        t.msg.wo_eos = m.wo_eos;
        t.source = src;
        t.blocks.push_back(std::move(b));
        merged.push_back(std::move(t));
      }
    } else {
      merged.push_back(Turn{m, {}, src});
    }
  }
  return merged;
}

// sort_tool_results_by_call_order(): within a user turn, tool results are stably reordered to the
// order of the latest assistant tool_calls ids (unknown ids sort as position 0).
void sort_tool_results(std::vector<Turn>& turns) {
  std::map<std::string, std::size_t> order;
  for (Turn& t : turns) {
    if (t.msg.role == "assistant" && !t.msg.tool_calls.empty()) {
      order.clear();
      for (std::size_t i = 0; i < t.msg.tool_calls.size(); ++i)
        if (!t.msg.tool_calls[i].id.empty()) order[t.msg.tool_calls[i].id] = i;
    } else if (t.msg.role == "user") {
      std::vector<Block> results;
      for (const Block& b : t.blocks)
        if (b.tool_result) results.push_back(b);
      if (results.size() < 2 || order.empty()) continue;
      auto pos = [&](const Block& b) {
        auto it = order.find(b.tool_use_id);
        return it == order.end() ? std::size_t{0} : it->second;
      };
      std::stable_sort(results.begin(), results.end(),
                       [&](const Block& a, const Block& b) { return pos(a) < pos(b); });
      std::size_t k = 0;
      for (Block& b : t.blocks)
        if (b.tool_result) b = results[k++];
    }
  }
}

int last_user_index(const std::vector<Turn>& turns) {
  for (int i = static_cast<int>(turns.size()) - 1; i >= 0; --i)
    if (is_user_like(turns[static_cast<std::size_t>(i)].msg.role)) return i;
  return -1;
}

// _drop_thinking_messages(): before the last user/developer turn, assistants lose their reasoning
// and developer turns are dropped.
std::vector<Turn> drop_thinking(std::vector<Turn> turns) {
  const int last_user = last_user_index(turns);
  std::vector<Turn> out;
  for (int i = 0; i < static_cast<int>(turns.size()); ++i) {
    Turn& t = turns[static_cast<std::size_t>(i)];
    const std::string& r = t.msg.role;
    if (r == "user" || r == "system" || r == "latest_reminder" || i >= last_user) {
      out.push_back(std::move(t));
    } else if (r == "assistant") {
      t.msg.reasoning_content.clear();
      out.push_back(std::move(t));
    }
  }
  return out;
}

// `tools` / `response_format` count only when Python would find them truthy ("[]" and "{}" do not).
Status normalize_truthiness(Turn& t) {
  for (std::string* field : {&t.msg.tools_json, &t.msg.response_format_json}) {
    if (field->empty()) continue;
    auto v = parse_py_json(*field);
    if (!v.ok()) return error("message {}: invalid JSON in tools / response_format: {}", t.source, v.message());
    if (!py_truthy(*v)) field->clear();
  }
  return ok_status();
}

// The system/developer suffix: tools block and response format.
Status append_tools_and_format(std::string& out, const Message& m) {
  if (!m.tools_json.empty()) {
    DSV4_ASSIGN_OR_RETURN(std::string block, render_tools_block(m.tools_json));
    out += "\n\n" + block;
  }
  if (!m.response_format_json.empty()) {
    auto rf = parse_py_json(m.response_format_json);
    if (!rf.ok()) return error("'response_format' is not valid JSON: {}", rf.message());
    out += "\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";
    append_py_dumps(out, *rf);
  }
  return ok_status();
}

struct RenderContext {
  const std::vector<Turn>& turns;
  const ChatOptions& options;
  bool drop_thinking;
  int last_user;
};

Result<std::string> render_turn(const RenderContext& ctx, std::size_t index) {
  const Turn& turn = ctx.turns[index];
  const Message& m = turn.msg;
  const bool thinking = ctx.options.thinking;
  std::string out;
  if (index == 0 && thinking && ctx.options.reasoning_effort == "max") out += kReasoningEffortMax;

  if (!m.tools_json.empty()) {  // every role's tools are checked (tools_from_openai_format)
    DSV4_TRY(render_tools_block(m.tools_json).status());
  }
  if (m.role == "system") {
    out += m.content.value_or("");
    DSV4_TRY(append_tools_and_format(out, m));
  } else if (m.role == "developer") {
    out += kUser;
    out += *m.content;
    DSV4_TRY(append_tools_and_format(out, m));
  } else if (m.role == "user") {
    out += kUser;
    for (std::size_t i = 0; i < turn.blocks.size(); ++i) {
      if (i) out += "\n\n";
      const Block& b = turn.blocks[i];
      out += b.tool_result ? "<tool_result>" + b.text + "</tool_result>" : b.text;
    }
  } else if (m.role == "latest_reminder") {
    out += kLatestReminder;
    out += *m.content;
  } else {  // assistant
    const bool prev_has_task = index > 0 && ctx.turns[index - 1].msg.task.has_value();
    if (thinking && !prev_has_task && (!ctx.drop_thinking || static_cast<int>(index) > ctx.last_user)) {
      out += m.reasoning_content;
      out += kThinkEnd;
    }
    out += m.content.value_or("");
    if (!m.tool_calls.empty()) {
      DSV4_ASSIGN_OR_RETURN(std::string dsml, render_tool_calls_dsml(m.tool_calls));
      out += dsml;
    }
    if (!m.wo_eos) out += kEos;
  }

  // Transition: only before an assistant / latest_reminder turn, or after the last turn.
  if (index + 1 < ctx.turns.size()) {
    const std::string& next = ctx.turns[index + 1].msg.role;
    if (next != "assistant" && next != "latest_reminder") return out;
  }
  if (m.task) {
    const std::string_view token = *task_token(*m.task);
    if (*m.task != "action") {
      out += token;
    } else {
      out += kAssistant;
      out += thinking ? kThinkStart : kThinkEnd;
      out += token;
    }
  } else if (is_user_like(m.role)) {
    out += kAssistant;
    const bool open_thinking =
        thinking && (!ctx.drop_thinking || static_cast<int>(index) >= ctx.last_user);
    out += open_thinking ? kThinkStart : kThinkEnd;
  }
  return out;
}

}  // namespace

Result<std::string> render_chat(const std::vector<Message>& messages, const ChatOptions& options) {
  DSV4_TRY(validate(messages, options));
  std::vector<Turn> turns = merge_tool_messages(messages);
  sort_tool_results(turns);
  for (Turn& t : turns) DSV4_TRY(normalize_truthiness(t));

  // Tools anywhere (after merging: user turns have lost theirs) keep all reasoning.
  bool drop = options.drop_thinking;
  for (const Turn& t : turns)
    if (!t.msg.tools_json.empty()) drop = false;
  if (options.thinking && drop) turns = drop_thinking(std::move(turns));

  std::string prompt(kBos);
  RenderContext ctx{turns, options, drop, last_user_index(turns)};
  for (std::size_t i = 0; i < turns.size(); ++i) {
    auto part = render_turn(ctx, i);
    if (!part.ok()) return error("message {}: {}", turns[i].source, part.message());
    prompt += *part;
  }
  return prompt;
}

}  // namespace dsv4::chat

// OpenAI-style JSON messages -> Message structs, with the shape checks the official Python encoder
// enforces implicitly (it fails with KeyError/TypeError where we return a one-line error).
#include <fmt/format.h>

#include "chat/chat_encoder.h"
#include "chat/py_json.h"

namespace dsv4::chat {
namespace {

std::string type_name(const Json& v) { return v.is_binary() ? "number" : std::string(v.type_name()); }

Status bad(std::size_t i, std::string_view what) { return error("message {}: {}", i, what); }

// Optional string field: absent or null -> nullopt; a string -> the string; anything else -> error.
Status get_opt_string(const Json& m, std::size_t i, const char* key, std::optional<std::string>* out) {
  auto it = m.find(key);
  if (it == m.end() || it->is_null()) return ok_status();
  if (!it->is_string()) return bad(i, fmt::format("'{}' must be a string, not {}", key, type_name(*it)));
  *out = it->get<std::string>();
  return ok_status();
}

// A tool result's content: a string or a list of content blocks, flattened as the official
// encoder does (text blocks joined by blank lines, other blocks as "[Unsupported TYPE]").
Result<std::string> tool_content(const Json& c, std::size_t i) {
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) return bad(i, fmt::format("tool 'content' must be a string or a list of blocks, not {}", type_name(c)));
  std::string out;
  bool first = true;
  for (const auto& b : c) {
    if (!b.is_object()) return bad(i, "tool content blocks must be objects");
    if (!first) out += "\n\n";
    first = false;
    auto type = b.find("type");
    std::string type_str = type == b.end() || type->is_null() ? "None" : type->is_string() ? type->get<std::string>() : py_dumps(*type);
    if (type_str == "text") {
      auto t = b.find("text");
      if (t == b.end()) continue;
      if (!t->is_string()) return bad(i, "a text block's 'text' must be a string");
      out += t->get<std::string>();
    } else {
      out += "[Unsupported " + type_str + "]";
    }
  }
  return out;
}

Result<ToolCall> tool_call_from_json(const Json& tc, std::size_t i) {
  if (!tc.is_object()) return bad(i, "each tool call must be an object");
  auto fn = tc.find("function");
  if (fn == tc.end() || !fn->is_object()) return bad(i, "tool call without a 'function' object");
  ToolCall out;
  auto name = fn->find("name");
  if (name == fn->end() || !name->is_string()) return bad(i, "tool call function needs a string 'name'");
  out.name = name->get<std::string>();
  auto args = fn->find("arguments");
  if (args == fn->end()) return bad(i, "tool call function needs 'arguments'");
  if (args->is_string()) {
    out.arguments = args->get<std::string>();
  } else {
    // The official encoder cannot json.loads a non-string, so it renders the value as one
    // parameter named "arguments"; this JSON text renders to exactly that.
    Json wrapped = Json::object();
    wrapped["arguments"] = *args;
    out.arguments = py_dumps(wrapped);
  }
  // id: tc["id"], or else tc["function"]["id"] (Python: tc.get("id") or ...get("id", "")).
  for (const Json* src : {&tc, &*fn}) {
    auto id = src->find("id");
    if (id != src->end() && id->is_string() && !id->get<std::string>().empty()) {
      out.id = id->get<std::string>();
      break;
    }
  }
  return out;
}

Result<Message> message_from_json(const Json& m, std::size_t i) {
  if (!m.is_object()) return bad(i, fmt::format("must be an object, not {}", type_name(m)));
  Message msg;
  auto role = m.find("role");
  if (role == m.end() || !role->is_string()) return bad(i, "missing string 'role'");
  msg.role = role->get<std::string>();
  const std::string& r = msg.role;
  auto content = m.find("content");
  if (r == "tool") {
    if (content != m.end()) {
      if (content->is_null()) return bad(i, "tool 'content' is null");
      DSV4_ASSIGN_OR_RETURN(msg.content, tool_content(*content, i));
    } else {
      msg.content = "";
    }
  } else if (r == "user" && content == m.end()) {
    msg.content = "";  // Python: msg.get("content", "")
  } else {
    DSV4_TRY(get_opt_string(m, i, "content", &msg.content));
  }
  std::optional<std::string> rc;
  DSV4_TRY(get_opt_string(m, i, "reasoning_content", &rc));
  msg.reasoning_content = rc.value_or("");
  if (auto tcs = m.find("tool_calls"); tcs != m.end() && py_truthy(*tcs)) {
    if (!tcs->is_array()) return bad(i, "'tool_calls' must be a list");
    for (const auto& tc : *tcs) {
      DSV4_ASSIGN_OR_RETURN(ToolCall call, tool_call_from_json(tc, i));
      msg.tool_calls.push_back(std::move(call));
    }
  }
  if (auto id = m.find("tool_call_id"); id != m.end() && id->is_string()) msg.tool_call_id = id->get<std::string>();
  if (auto tools = m.find("tools"); tools != m.end() && py_truthy(*tools)) msg.tools_json = py_dumps(*tools);
  if (auto rf = m.find("response_format"); rf != m.end() && py_truthy(*rf)) msg.response_format_json = py_dumps(*rf);
  DSV4_TRY(get_opt_string(m, i, "task", &msg.task));
  if (auto w = m.find("wo_eos"); w != m.end() && !w->is_null()) {
    if (!w->is_boolean()) return bad(i, "'wo_eos' must be a boolean");
    msg.wo_eos = w->get<bool>();
  }
  return msg;
}

}  // namespace

Result<std::vector<Message>> messages_from_json(std::string_view json_text) {
  auto parsed = parse_py_json(json_text);
  if (!parsed.ok()) return error("invalid JSON: {}", parsed.message());
  Json doc = std::move(parsed).value();
  Json tools;
  if (doc.is_object()) {
    auto it = doc.find("messages");
    if (it == doc.end() || !it->is_array()) return error("input object needs a 'messages' list");
    if (auto t = doc.find("tools"); t != doc.end()) tools = *t;
    Json list = std::move(*it);
    doc = std::move(list);
  }
  if (!doc.is_array()) return error("input must be a list of messages or an object with 'messages'");
  if (!tools.is_null()) {
    if (doc.empty()) return error("'tools' given but there are no messages to attach them to");
    if (!doc[0].is_object()) return bad(0, "must be an object");
    doc[0]["tools"] = tools;  // the official tests attach the tools to the first message
  }
  std::vector<Message> out;
  out.reserve(doc.size());
  for (std::size_t i = 0; i < doc.size(); ++i) {
    DSV4_ASSIGN_OR_RETURN(Message m, message_from_json(doc[i], i));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::string> render_chat_json(std::string_view json_text, const ChatOptions& options) {
  DSV4_ASSIGN_OR_RETURN(std::vector<Message> messages, messages_from_json(json_text));
  return render_chat(messages, options);
}

}  // namespace dsv4::chat

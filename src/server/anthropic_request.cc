#include "server/anthropic_request.h"

#include <random>
#include <set>

#include <fmt/format.h>

namespace dsv4::server {
namespace {

// A block list's text (a plain string is one text block).
MaybeError text_of(const Json& c, const std::string& field, std::string* out) {
  if (c.is_string()) {
    *out = c.get<std::string>();
    return std::nullopt;
  }
  if (!c.is_array()) return wrong_type(field, "a string or an array of content blocks", c);
  for (size_t i = 0; i < c.size(); ++i) {
    const Json& b = c[i];
    const std::string bf = fmt::format("{}[{}]", field, i);
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string()) return bad_request(fmt::format("'{}' must be a content block with a type", bf), bf);
    if (b["type"] != "text") return bad_request(fmt::format("'{}': only text blocks are allowed here", bf), bf);
    if (!b.contains("text") || !b["text"].is_string()) return bad_request(fmt::format("'{}.text' must be a string", bf), bf);
    if (!out->empty()) out->append("\n");
    out->append(b["text"].get<std::string>());
  }
  return std::nullopt;
}

MaybeError convert_message(const Json& m, size_t i, bool last, std::set<std::string>& ids, ChatRequest* out) {
  const std::string pf = fmt::format("messages[{}]", i);
  if (!m.is_object()) return wrong_type(pf, "an object", m);
  auto role = m.find("role");
  if (role == m.end() || !role->is_string() || (*role != "user" && *role != "assistant"))
    return bad_request(fmt::format("'{}.role' must be 'user' or 'assistant'", pf), pf + ".role", "invalid_role");
  auto content = m.find("content");
  if (content == m.end() || content->is_null()) return bad_request(fmt::format("'{}.content' is required", pf), pf + ".content");
  Json blocks = content->is_string() ? Json::array({{{"type", "text"}, {"text", *content}}}) : *content;
  if (!blocks.is_array()) return wrong_type(pf + ".content", "a string or an array of content blocks", *content);
  chat::Message msg;
  msg.role = role->get<std::string>();
  std::string text;
  std::vector<chat::Message> results;  // tool results come before the user's text
  for (size_t k = 0; k < blocks.size(); ++k) {
    const Json& b = blocks[k];
    const std::string bf = fmt::format("{}.content[{}]", pf, k);
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string()) return bad_request(fmt::format("'{}' must be a content block with a type", bf), bf);
    const std::string type = b["type"].get<std::string>();
    if (type == "text") {
      if (!b.contains("text") || !b["text"].is_string()) return bad_request(fmt::format("'{}.text' must be a string", bf), bf);
      if (!text.empty()) text += "\n";
      text += b["text"].get<std::string>();
    } else if (type == "thinking" && msg.role == "assistant") {
      if (b.contains("thinking") && b["thinking"].is_string()) msg.reasoning_content += b["thinking"].get<std::string>();
    } else if (type == "redacted_thinking" && msg.role == "assistant") {
      // nothing to render
    } else if (type == "tool_use" && msg.role == "assistant") {
      if (!b.contains("id") || !b["id"].is_string() || !b.contains("name") || !b["name"].is_string())
        return bad_request(fmt::format("'{}' needs a string id and name", bf), bf);
      chat::ToolCall tc;
      tc.id = b["id"].get<std::string>();
      tc.name = b["name"].get<std::string>();
      const Json input = b.contains("input") && !b["input"].is_null() ? b["input"] : Json::object();
      if (!input.is_object()) return wrong_type(bf + ".input", "an object", input);
      tc.arguments = input.dump();
      ids.insert(tc.id);
      msg.tool_calls.push_back(std::move(tc));
    } else if (type == "tool_result" && msg.role == "user") {
      if (!b.contains("tool_use_id") || !b["tool_use_id"].is_string()) return bad_request(fmt::format("'{}.tool_use_id' is required", bf), bf);
      const std::string id = b["tool_use_id"].get<std::string>();
      if (!ids.count(id))
        return bad_request(fmt::format("'{}' answers tool_use '{}', which no earlier assistant message made", bf, id), bf + ".tool_use_id", "unknown_tool_call");
      chat::Message r;
      r.role = "tool";
      r.tool_call_id = id;
      std::string t;
      if (b.contains("content") && !b["content"].is_null())
        if (auto e = text_of(b["content"], bf + ".content", &t)) return e;
      if (b.value("is_error", false)) t = "Error: " + t;
      r.content = t;
      results.push_back(std::move(r));
    } else {
      return bad_request(fmt::format("'{}': content blocks of type '{}' are not supported in {} messages", bf, type, msg.role), bf + ".type");
    }
  }
  for (auto& r : results) out->messages.push_back(std::move(r));
  if (msg.role == "user" && text.empty() && !results.empty()) return std::nullopt;
  msg.content = text;
  if (msg.role == "assistant" && last) {
    msg.wo_eos = true;  // Anthropic prefill: the reply continues this text
    out->prefix = true;
  }
  out->messages.push_back(std::move(msg));
  return std::nullopt;
}

MaybeError convert_tools(const Json& body, ChatRequest* out) {
  Fields f(body);
  if (const Json* tools = f.find("tools")) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    Json oa = Json::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      const std::string pf = fmt::format("tools[{}]", i);
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) return bad_request(fmt::format("'{}.name' is required", pf), pf);
      Json fn = {{"name", t["name"]}};
      if (t.contains("description") && t["description"].is_string()) fn["description"] = t["description"];
      if (t.contains("input_schema")) {
        if (!t["input_schema"].is_object()) return wrong_type(pf + ".input_schema", "an object", t["input_schema"]);
        fn["parameters"] = t["input_schema"];
      }
      oa.push_back({{"type", "function"}, {"function", fn}});
    }
    if (!oa.empty()) out->tools_json = oa.dump();
  }
  if (const Json* tc = f.find("tool_choice")) {
    if (!tc->is_object() || !tc->contains("type") || !(*tc)["type"].is_string()) return bad_request("'tool_choice.type' is required", "tool_choice");
    const std::string type = (*tc)["type"].get<std::string>();
    if (type == "auto") out->tool_choice = ToolChoice::kAuto;
    else if (type == "any") out->tool_choice = ToolChoice::kRequired;
    else if (type == "none") out->tool_choice = ToolChoice::kNone;
    else if (type == "tool") {
      if (!tc->contains("name") || !(*tc)["name"].is_string()) return bad_request("'tool_choice.name' is required for type 'tool'", "tool_choice");
      out->tool_choice = ToolChoice::kFunction;
      out->tool_choice_name = (*tc)["name"].get<std::string>();
    } else {
      return bad_request(fmt::format("'tool_choice.type' is '{}'; expected auto, any, tool or none", type), "tool_choice");
    }
    if (tc->contains("disable_parallel_tool_use") && (*tc)["disable_parallel_tool_use"].is_boolean())
      out->parallel_tool_calls = !(*tc)["disable_parallel_tool_use"].get<bool>();
  }
  if ((out->tool_choice == ToolChoice::kRequired || out->tool_choice == ToolChoice::kFunction) && out->tools_json.empty())
    return bad_request("'tool_choice' asks for a tool call but 'tools' is empty", "tool_choice");
  if (out->tool_choice == ToolChoice::kFunction) {
    bool found = false;
    for (const Json& t : Json::parse(out->tools_json)) found = found || t["function"]["name"] == out->tool_choice_name;
    if (!found) return bad_request(fmt::format("'tool_choice' names '{}', which is not in 'tools'", out->tool_choice_name), "tool_choice");
  }
  return std::nullopt;
}

}  // namespace

MaybeError parse_messages_request(const Json& body, const RequestLimits& lim, bool count_only, ChatRequest* out) {
  if (!body.is_object()) return bad_request("the request body must be a JSON object");
  Fields f(body);
  std::optional<std::string> model;
  if (auto e = f.str("model", &model)) return e;
  out->model = model.value_or("");
  if (const Json* sys = f.find("system")) {
    std::string text;
    if (auto e = text_of(*sys, "system", &text)) return e;
    chat::Message s;
    s.role = "system";
    s.content = text;
    out->messages.push_back(std::move(s));
  }
  const Json* msgs = f.find("messages");
  if (!msgs) return bad_request("'messages' is required", "messages", "missing_messages");
  if (!msgs->is_array()) return wrong_type("messages", "an array", *msgs);
  if (msgs->empty()) return bad_request("'messages' must not be empty", "messages", "empty_messages");
  std::set<std::string> ids;
  for (size_t i = 0; i < msgs->size(); ++i)
    if (auto e = convert_message((*msgs)[i], i, i + 1 == msgs->size(), ids, out)) return e;
  if (auto e = convert_tools(body, out)) return e;
  if (const Json* th = f.find("thinking")) {
    if (!th->is_object() || !th->contains("type") || !(*th)["type"].is_string()) return bad_request("'thinking.type' is required", "thinking");
    const std::string t = (*th)["type"].get<std::string>();
    if (t != "enabled" && t != "disabled" && t != "adaptive") return bad_request("'thinking.type' must be 'enabled' or 'disabled'", "thinking.type");
    out->thinking = t != "disabled";
  }
  GenerationParams& g = out->gen;
  std::optional<double> d;
  std::optional<int64_t> i;
  if (auto e = f.number("temperature", 0, 2, &d)) return e;
  if (d) g.sampling.temperature = static_cast<float>(*d);
  d.reset();
  if (auto e = f.number("top_p", 0, 1, &d)) return e;
  if (d && *d > 0) g.sampling.top_p = static_cast<float>(*d);
  if (auto e = f.integer("top_k", 0, 1 << 20, &i)) return e;
  if (i) g.sampling.top_k = static_cast<int>(*i);
  i.reset();
  g.sampling.seed = 0x5eed0000u + static_cast<uint64_t>(std::random_device{}());
  if (auto e = f.integer("max_tokens", INT64_MIN, INT64_MAX, &i)) return e;
  if (!i && !count_only) return bad_request("'max_tokens' is required", "max_tokens");
  if (i) {
    if (*i < 1) return bad_request(fmt::format("'max_tokens' must be at least 1 (got {})", *i), "max_tokens", "invalid_value");
    if (lim.max_context > 0 && *i > lim.max_context)
      return bad_request(fmt::format("'max_tokens' is {}, more than the context of {} tokens", *i, lim.max_context), "max_tokens");
    g.max_tokens = *i;
  }
  if (const Json* st = f.find("stop_sequences")) {
    if (!st->is_array()) return wrong_type("stop_sequences", "an array of strings", *st);
    for (const Json& s : *st) {
      if (!s.is_string()) return wrong_type("stop_sequences[]", "a string", s);
      if (!s.get<std::string>().empty()) g.stop.push_back(s.get<std::string>());
    }
    if (static_cast<int>(g.stop.size()) > lim.max_stop) return bad_request(fmt::format("at most {} stop_sequences", lim.max_stop), "stop_sequences");
  }
  if (auto e = f.boolean("stream", &g.stream)) return e;
  return std::nullopt;
}

}  // namespace dsv4::server

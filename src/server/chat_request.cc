#include "server/chat_request.h"

#include <random>
#include <set>

#include <fmt/format.h>

namespace dsv4::server {
namespace {

constexpr int64_t kMaxSeed = INT64_MAX;

// OpenAI content: a string or a list of parts; text parts are joined (images are not supported).
MaybeError flatten_content(const Json& c, const std::string& field, Json* out) {
  if (c.is_string() || c.is_null()) {
    *out = c;
    return std::nullopt;
  }
  if (!c.is_array()) return wrong_type(field, "a string or a list of content parts", c);
  std::string text;
  for (size_t i = 0; i < c.size(); ++i) {
    const Json& p = c[i];
    const std::string pf = fmt::format("{}[{}]", field, i);
    if (!p.is_object()) return wrong_type(pf, "an object", p);
    auto type = p.find("type");
    if (type == p.end() || !type->is_string()) return bad_request(fmt::format("'{}.type' is missing", pf), pf);
    if (*type != "text")
      return bad_request(fmt::format("'{}': content parts of type '{}' are not supported (text only)", pf, type->get<std::string>()), pf);
    auto t = p.find("text");
    if (t == p.end() || !t->is_string()) return bad_request(fmt::format("'{}.text' must be a string", pf), pf);
    if (!text.empty()) text += "\n";
    text += t->get<std::string>();
  }
  *out = text;
  return std::nullopt;
}

MaybeError parse_messages(const Json& body, ChatRequest* out, Json* normalized) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return bad_request("'messages' is required", "messages", "missing_messages");
  if (!it->is_array()) return wrong_type("messages", "an array", *it);
  if (it->empty()) return bad_request("'messages' must not be empty", "messages", "empty_messages");
  static const std::set<std::string> kRoles = {"system", "user", "assistant", "tool", "developer"};
  std::set<std::string> call_ids;  // tool calls made so far
  *normalized = Json::array();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& m = (*it)[i];
    const std::string pf = fmt::format("messages[{}]", i);
    if (!m.is_object()) return wrong_type(pf, "an object", m);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return bad_request(fmt::format("'{}.role' is required", pf), pf + ".role");
    const std::string r = role->get<std::string>();
    if (!kRoles.count(r))
      return bad_request(fmt::format("'{}.role' is '{}'; expected system, user, assistant, tool or developer", pf, r), pf + ".role", "invalid_role");
    Json n = Json::object();
    n["role"] = r;
    if (auto c = m.find("content"); c != m.end()) {
      if (r == "tool") {
        n["content"] = *c;  // the encoder flattens a tool result's blocks itself
      } else {
        Json flat;
        if (auto e = flatten_content(*c, pf + ".content", &flat)) return e;
        n["content"] = flat;
      }
    }
    if ((r == "user" || r == "system" || r == "developer") && (!n.contains("content") || n["content"].is_null()))
      return bad_request(fmt::format("'{}.content' is required for a {} message", pf, r), pf + ".content");
    if (r == "assistant") {
      if (auto rc = m.find("reasoning_content"); rc != m.end() && !rc->is_null()) {
        if (!rc->is_string()) return wrong_type(pf + ".reasoning_content", "a string", *rc);
        n["reasoning_content"] = *rc;
      }
      if (auto tcs = m.find("tool_calls"); tcs != m.end() && !tcs->is_null()) {
        if (!tcs->is_array()) return wrong_type(pf + ".tool_calls", "an array", *tcs);
        for (size_t k = 0; k < tcs->size(); ++k) {
          const Json& tc = (*tcs)[k];
          const std::string tf = fmt::format("{}.tool_calls[{}]", pf, k);
          if (!tc.is_object()) return wrong_type(tf, "an object", tc);
          auto id = tc.find("id");
          if (id != tc.end() && id->is_string()) call_ids.insert(id->get<std::string>());
          auto fn = tc.find("function");
          if (fn == tc.end() || !fn->is_object()) return bad_request(fmt::format("'{}.function' is required", tf), tf + ".function");
          auto name = fn->find("name");
          if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
            return bad_request(fmt::format("'{}.function.name' is required", tf), tf + ".function.name");
        }
        n["tool_calls"] = *tcs;
      }
      if (auto p = m.find("prefix"); p != m.end() && !p->is_null()) {
        if (!p->is_boolean()) return wrong_type(pf + ".prefix", "a boolean", *p);
        if (p->get<bool>()) {
          if (i + 1 != it->size())
            return bad_request(fmt::format("'{}.prefix' is only allowed on the last message", pf), pf + ".prefix");
          out->prefix = true;
          n["wo_eos"] = true;
        }
      }
      if (!out->prefix && (!n.contains("content") || n["content"].is_null()) && !n.contains("tool_calls"))
        n["content"] = "";
    }
    if (r == "tool") {
      auto id = m.find("tool_call_id");
      if (id == m.end() || !id->is_string() || id->get<std::string>().empty())
        return bad_request(fmt::format("'{}.tool_call_id' is required for a tool message", pf), pf + ".tool_call_id");
      if (!call_ids.count(id->get<std::string>()))
        return bad_request(fmt::format("'{}' answers tool call '{}', which no earlier assistant message made", pf, id->get<std::string>()),
                           pf + ".tool_call_id", "unknown_tool_call");
      n["tool_call_id"] = *id;
      if (!n.contains("content")) return bad_request(fmt::format("'{}.content' is required", pf), pf + ".content");
    }
    normalized->push_back(std::move(n));
  }
  return std::nullopt;
}

MaybeError parse_tools(const Json& body, ChatRequest* out) {
  auto it = body.find("tools");
  if (it != body.end() && !it->is_null()) {
    if (!it->is_array()) return wrong_type("tools", "an array", *it);
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& t = (*it)[i];
      const std::string pf = fmt::format("tools[{}]", i);
      if (!t.is_object()) return wrong_type(pf, "an object", t);
      auto type = t.find("type");
      if (type != t.end() && !(type->is_string() && *type == "function"))
        return bad_request(fmt::format("'{}.type' must be 'function'", pf), pf + ".type");
      auto fn = t.find("function");
      if (fn == t.end() || !fn->is_object()) return bad_request(fmt::format("'{}.function' is required", pf), pf + ".function");
      auto name = fn->find("name");
      if (name == fn->end() || !name->is_string() || name->get<std::string>().empty())
        return bad_request(fmt::format("'{}.function.name' is required", pf), pf + ".function.name");
      if (auto p = fn->find("parameters"); p != fn->end() && !p->is_null() && !p->is_object())
        return wrong_type(pf + ".function.parameters", "an object (a JSON schema)", *p);
    }
    if (!it->empty()) out->tools_json = it->dump();
  }
  auto tc = body.find("tool_choice");
  if (tc == body.end() || tc->is_null()) {
    out->tool_choice = ToolChoice::kAuto;
  } else if (tc->is_string()) {
    const std::string s = tc->get<std::string>();
    if (s == "auto") out->tool_choice = ToolChoice::kAuto;
    else if (s == "none") out->tool_choice = ToolChoice::kNone;
    else if (s == "required") out->tool_choice = ToolChoice::kRequired;
    else return bad_request(fmt::format("'tool_choice' is '{}'; expected auto, none, required or an object naming a function", s), "tool_choice");
  } else if (tc->is_object()) {
    auto fn = tc->find("function");
    if (fn == tc->end() || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string())
      return bad_request("'tool_choice.function.name' is required", "tool_choice");
    out->tool_choice = ToolChoice::kFunction;
    out->tool_choice_name = (*fn)["name"].get<std::string>();
  } else {
    return wrong_type("tool_choice", "a string or an object", *tc);
  }
  if ((out->tool_choice == ToolChoice::kRequired || out->tool_choice == ToolChoice::kFunction) && out->tools_json.empty())
    return bad_request("'tool_choice' asks for a tool call but 'tools' is empty", "tool_choice");
  if (out->tool_choice == ToolChoice::kFunction) {
    bool found = false;
    for (const Json& t : Json::parse(out->tools_json))
      if (t["function"]["name"] == out->tool_choice_name) found = true;
    if (!found) return bad_request(fmt::format("'tool_choice' names '{}', which is not in 'tools'", out->tool_choice_name), "tool_choice");
  }
  Fields f(body);
  return f.boolean("parallel_tool_calls", &out->parallel_tool_calls);
}

MaybeError parse_format(const Json& body, ChatRequest* out) {
  auto it = body.find("response_format");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) return wrong_type("response_format", "an object", *it);
  auto type = it->find("type");
  if (type == it->end() || !type->is_string()) return bad_request("'response_format.type' is required", "response_format.type");
  const std::string t = type->get<std::string>();
  if (t == "text") return std::nullopt;
  if (t == "json_object") {
    out->format = ResponseFormat::kJsonObject;
    return std::nullopt;
  }
  if (t != "json_schema")
    return bad_request(fmt::format("'response_format.type' is '{}'; expected text, json_object or json_schema", t), "response_format.type");
  auto js = it->find("json_schema");
  if (js == it->end() || !js->is_object()) return bad_request("'response_format.json_schema' is required", "response_format.json_schema");
  auto schema = js->find("schema");
  if (schema == js->end() || !schema->is_object())
    return bad_request("'response_format.json_schema.schema' must be an object", "response_format.json_schema.schema");
  out->format = ResponseFormat::kJsonSchema;
  out->json_schema = schema->dump();
  return std::nullopt;
}

MaybeError parse_thinking(const Json& body, ChatRequest* out) {
  if (auto t = body.find("thinking"); t != body.end() && !t->is_null()) {
    if (!t->is_object()) return wrong_type("thinking", "an object", *t);
    auto type = t->find("type");
    if (type == t->end() || !type->is_string() || (*type != "enabled" && *type != "disabled"))
      return bad_request("'thinking.type' must be 'enabled' or 'disabled'", "thinking.type");
    out->thinking = *type == "enabled";
  }
  Fields f(body);
  std::optional<std::string> effort;
  if (auto e = f.str("reasoning_effort", &effort)) return e;
  if (effort) {
    // DeepSeek's API accepts low/medium/high as "high" and max (xhigh as max, as ds4 does).
    if (*effort == "max" || *effort == "xhigh") out->reasoning_effort = "max";
    else if (*effort != "low" && *effort != "medium" && *effort != "high" && *effort != "minimal")
      return bad_request(fmt::format("'reasoning_effort' is '{}'; expected low, medium, high or max", *effort), "reasoning_effort");
  }
  return std::nullopt;
}

}  // namespace

MaybeError parse_generation_params(const Fields& f, const RequestLimits& lim, GenerationParams* g) {
  std::optional<double> d;
  std::optional<int64_t> i;
  engine::SamplingParams& s = g->sampling;
  if (auto e = f.number("temperature", 0, 2, &d)) return e;
  if (d) s.temperature = static_cast<float>(*d);
  d.reset();
  if (auto e = f.number("top_p", 0, 1, &d)) return e;
  if (d) {
    if (*d <= 0) return bad_request("'top_p' must be in (0, 1]", "top_p", "invalid_value");
    s.top_p = static_cast<float>(*d);
  }
  d.reset();
  if (auto e = f.number("min_p", 0, 1, &d)) return e;
  if (d) s.min_p = static_cast<float>(*d);
  d.reset();
  if (auto e = f.number("presence_penalty", -2, 2, &d)) return e;
  if (d) s.presence_penalty = static_cast<float>(*d);
  d.reset();
  if (auto e = f.number("frequency_penalty", -2, 2, &d)) return e;
  if (d) s.frequency_penalty = static_cast<float>(*d);
  d.reset();
  if (auto e = f.number("repetition_penalty", 0.01, 10, &d)) return e;
  if (d) s.repetition_penalty = static_cast<float>(*d);
  if (auto e = f.integer("top_k", -1, 1 << 20, &i)) return e;
  if (i) s.top_k = *i < 0 ? 0 : static_cast<int>(*i);
  i.reset();
  if (auto e = f.integer("seed", INT64_MIN, kMaxSeed, &i)) return e;
  if (i) s.seed = static_cast<uint64_t>(*i);
  else s.seed = 0x5eed0000u + static_cast<uint64_t>(std::random_device{}());
  i.reset();
  if (const Json* lb = f.find("logit_bias")) {
    if (!lb->is_object()) return wrong_type(f.name("logit_bias"), "an object of token id -> bias", *lb);
    for (const auto& [k, v] : lb->items()) {
      size_t pos = 0;
      long long id = -1;
      try {
        id = std::stoll(k, &pos);
      } catch (...) {
        pos = 0;
      }
      if (pos != k.size() || id < 0 || id > INT32_MAX)
        return bad_request(fmt::format("'logit_bias' key '{}' is not a token id", k), "logit_bias", "invalid_value");
      if (!v.is_number()) return wrong_type(fmt::format("logit_bias.{}", k), "a number", v);
      const double b = v.get<double>();
      if (!(b >= -100 && b <= 100))
        return bad_request(fmt::format("'logit_bias.{}' must be in [-100, 100]", k), "logit_bias", "invalid_value");
      s.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
    }
  }
  // max_completion_tokens (newer OpenAI name) wins over max_tokens.
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (auto e = f.integer(key, INT64_MIN, INT64_MAX, &i)) return e;
    if (!i) continue;
    if (*i < 1) return bad_request(fmt::format("'{}' must be at least 1 (got {})", key, *i), key, "invalid_value");
    if (lim.max_context > 0 && *i > lim.max_context)
      return bad_request(fmt::format("'{}' is {}, more than the context of {} tokens", key, *i, lim.max_context), key, "invalid_value");
    g->max_tokens = *i;
    i.reset();
  }
  if (auto e = f.integer("n", 1, lim.max_n, &i)) return e;
  if (i) g->n = static_cast<int>(*i);
  i.reset();
  if (const Json* st = f.find("stop")) {
    if (st->is_string()) {
      g->stop.push_back(st->get<std::string>());
    } else if (st->is_array()) {
      for (const Json& x : *st) {
        if (!x.is_string()) return wrong_type(f.name("stop") + "[]", "a string", x);
        g->stop.push_back(x.get<std::string>());
      }
    } else {
      return wrong_type(f.name("stop"), "a string or an array of strings", *st);
    }
    if (static_cast<int>(g->stop.size()) > lim.max_stop)
      return bad_request(fmt::format("'stop' has {} strings; at most {}", g->stop.size(), lim.max_stop), "stop");
    std::erase(g->stop, std::string());
  }
  if (auto e = f.boolean("stream", &g->stream)) return e;
  if (const Json* so = f.find("stream_options")) {
    if (!so->is_object()) return wrong_type(f.name("stream_options"), "an object", *so);
    Fields sf(*so, "stream_options.");
    if (auto e = sf.boolean("include_usage", &g->include_usage)) return e;
  }
  std::optional<std::string> user;
  return f.str("user", &user);  // checked, otherwise unused
}

MaybeError parse_chat_request(const Json& body, const RequestLimits& lim, ChatRequest* out) {
  if (!body.is_object()) return bad_request("the request body must be a JSON object");
  Fields f(body);
  std::optional<std::string> model;
  if (auto e = f.str("model", &model)) return e;
  out->model = model.value_or("");
  Json normalized;
  if (auto e = parse_messages(body, out, &normalized)) return e;
  if (auto e = parse_tools(body, out)) return e;
  if (auto e = parse_format(body, out)) return e;
  if (auto e = parse_thinking(body, out)) return e;
  if (auto e = parse_generation_params(f, lim, &out->gen)) return e;
  // logprobs: a boolean in chat; top_logprobs needs it.
  if (auto e = f.boolean("logprobs", &out->gen.logprobs)) return e;
  std::optional<int64_t> top;
  if (auto e = f.integer("top_logprobs", 0, 20, &top)) return e;
  if (top) {
    if (!out->gen.logprobs && *top > 0) return bad_request("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    out->gen.sampling.top_logprobs = static_cast<int>(*top);
  }
  auto msgs = chat::messages_from_json(normalized.dump());
  if (!msgs.ok()) return bad_request(msgs.message(), "messages");
  out->messages = std::move(*msgs);
  if (out->prefix && out->gen.n > 1) return bad_request("prefix completion supports n = 1 only", "n");
  return std::nullopt;
}

MaybeError parse_completion_request(const Json& body, const RequestLimits& lim, CompletionRequest* out) {
  if (!body.is_object()) return bad_request("the request body must be a JSON object");
  Fields f(body);
  std::optional<std::string> model;
  if (auto e = f.str("model", &model)) return e;
  out->model = model.value_or("");
  const Json* p = f.find("prompt");
  if (!p) return bad_request("'prompt' is required", "prompt", "missing_prompt");
  if (p->is_string()) {
    out->prompt = p->get<std::string>();
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    out->prompt = (*p)[0].get<std::string>();
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    for (const Json& t : *p) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
        return bad_request("'prompt' token ids must be non-negative integers", "prompt");
      out->prompt_tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
  } else if (p->is_array()) {
    return bad_request("'prompt' must be a string, a list with one string, or a list of token ids (batches of prompts are not supported)", "prompt");
  } else {
    return wrong_type("prompt", "a string or an array", *p);
  }
  std::optional<std::string> suffix;
  if (auto e = f.str("suffix", &suffix)) return e;
  out->suffix = suffix;
  if (out->suffix && !out->prompt_tokens.empty()) return bad_request("'suffix' needs a text prompt", "suffix");
  if (auto e = f.boolean("echo", &out->echo)) return e;
  if (auto e = parse_generation_params(f, lim, &out->gen)) return e;
  // logprobs: an integer (the number of alternatives) in the legacy completions API.
  std::optional<int64_t> lp;
  if (const Json* l = f.find("logprobs"); l && l->is_boolean()) {
    out->gen.logprobs = l->get<bool>();
  } else {
    if (auto e = f.integer("logprobs", 0, 20, &lp)) return e;
    if (lp) {
      out->gen.logprobs = true;
      out->gen.sampling.top_logprobs = static_cast<int>(*lp);
    }
  }
  return std::nullopt;
}

}  // namespace dsv4::server

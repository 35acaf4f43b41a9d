// The OpenAI wire formats (chat.completion, chat.completion.chunk, text_completion) with
// DeepSeek's additions: reasoning_content and the prompt cache hit / miss usage fields.
#include <chrono>
#include <random>

#include <fmt/format.h>

#include "server/formatter.h"

namespace dsv4::server {

using nlohmann::json;

std::string sse_data(const json& j) { return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n"; }

std::string sse_event(const char* event, const json& j) {
  return fmt::format("event: {}\ndata: {}\n\n", event, j.dump(-1, ' ', false, json::error_handler_t::replace));
}

json openai_usage(const Generation& g) {
  const engine::Usage& u = g.usage();
  const int64_t hit = u.cached_tokens;
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_cache_hit_tokens", hit},
          {"prompt_cache_miss_tokens", u.prompt_tokens - hit},
          {"prompt_tokens_details", {{"cached_tokens", hit}}},
          {"completion_tokens_details", {{"reasoning_tokens", g.reasoning_tokens()}}}};
}

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

json top_json(const TopLogprob& t) { return {{"token", t.token}, {"logprob", t.logprob}, {"bytes", t.bytes}}; }

json chat_logprobs(const std::vector<LogprobEntry>& v) {
  json content = json::array();
  for (const auto& e : v) {
    json x = top_json(e.tok);
    x["top_logprobs"] = json::array();
    for (const auto& t : e.top) x["top_logprobs"].push_back(top_json(t));
    content.push_back(std::move(x));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

class ChatFormatter : public Formatter {
 public:
  ChatFormatter(std::string model, bool include_usage)
      : model_(std::move(model)), include_usage_(include_usage), id_(random_id("chatcmpl-")), created_(unix_now()) {}

  json chunk(json choices) const {
    json c = {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", model_},
              {"system_fingerprint", "dsv4"}, {"choices", std::move(choices)}};
    if (include_usage_) c["usage"] = nullptr;
    return c;
  }

  std::vector<std::string> stream_start(const Generation& g) override {
    json choices = json::array();
    for (int i = 0; i < g.prepared().req.n; ++i)
      choices.push_back({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
    return {sse_data(chunk(std::move(choices)))};
  }

  std::vector<std::string> stream_delta(const Generation& g, const ChoiceDelta& d) override {
    json delta = json::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty()) delta["content"] = d.content;
    if (!d.tool_calls.empty()) {
      json calls = json::array();
      for (const auto& t : d.tool_calls) {
        json c = {{"index", t.index}};
        if (!t.id.empty()) {
          c["id"] = t.id;
          c["type"] = "function";
          c["function"] = {{"name", t.name}, {"arguments", t.arguments}};
        } else {
          c["function"] = {{"arguments", t.arguments}};
        }
        calls.push_back(std::move(c));
      }
      delta["tool_calls"] = std::move(calls);
    }
    json choice = {{"index", d.choice}, {"delta", std::move(delta)}};
    choice["logprobs"] = d.logprobs.empty() ? json(nullptr) : chat_logprobs(d.logprobs);
    choice["finish_reason"] = d.finish_reason ? json(*d.finish_reason) : json(nullptr);
    return {sse_data(chunk(json::array({std::move(choice)})))};
  }

  std::vector<std::string> stream_end(const Generation& g) override {
    std::vector<std::string> out;
    if (include_usage_) {
      json c = chunk(json::array());
      c["usage"] = openai_usage(g);
      out.push_back(sse_data(c));
    }
    out.push_back("data: [DONE]\n\n");
    return out;
  }

  std::vector<std::string> stream_error(const ApiError& e) override { return {sse_data(e.openai_json()), "data: [DONE]\n\n"}; }

  json response(const Generation& g) override {
    json choices = json::array();
    const auto& rs = g.results();
    for (size_t i = 0; i < rs.size(); ++i) {
      const ChoiceResult& r = rs[i];
      json msg = {{"role", "assistant"}};
      msg["content"] = r.content.empty() && !r.tool_calls.empty() ? json(nullptr) : json(r.content);
      if (!r.reasoning.empty() || g.prepared().thinking) msg["reasoning_content"] = r.reasoning;
      if (!r.tool_calls.empty()) {
        json calls = json::array();
        for (const auto& t : r.tool_calls)
          calls.push_back({{"id", t.id}, {"type", "function"}, {"function", {{"name", t.name}, {"arguments", t.arguments}}}});
        msg["tool_calls"] = std::move(calls);
      }
      json c = {{"index", i}, {"message", std::move(msg)}};
      c["logprobs"] = g.prepared().req.logprobs ? chat_logprobs(r.logprobs) : json(nullptr);
      c["finish_reason"] = r.finish_reason;
      choices.push_back(std::move(c));
    }
    return {{"id", id_}, {"object", "chat.completion"}, {"created", created_}, {"model", model_},
            {"system_fingerprint", "dsv4"}, {"choices", std::move(choices)}, {"usage", openai_usage(g)}};
  }

  json error(const ApiError& e) const override { return e.openai_json(); }

 private:
  std::string model_;
  bool include_usage_;
  std::string id_;
  int64_t created_;
};

// Legacy completions logprobs: parallel arrays.
json completion_logprobs(const std::vector<LogprobEntry>& v, size_t offset0) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  size_t off = offset0;
  for (const auto& e : v) {
    tokens.push_back(e.tok.token);
    lps.push_back(e.tok.logprob);
    json t = json::object();
    for (const auto& x : e.top) t[x.token] = x.logprob;
    tops.push_back(std::move(t));
    offsets.push_back(off);
    off += e.tok.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

class CompletionFormatter : public Formatter {
 public:
  CompletionFormatter(std::string model, bool include_usage)
      : model_(std::move(model)), include_usage_(include_usage), id_(random_id("cmpl-")), created_(unix_now()) {}

  json object(json choices) const {
    json c = {{"id", id_}, {"object", "text_completion"}, {"created", created_}, {"model", model_},
              {"system_fingerprint", "dsv4"}, {"choices", std::move(choices)}};
    if (include_usage_) c["usage"] = nullptr;
    return c;
  }

  std::vector<std::string> stream_start(const Generation& g) override {
    if (g.prepared().echo.empty()) return {};
    json choices = json::array();
    for (int i = 0; i < g.prepared().req.n; ++i)
      choices.push_back({{"index", i}, {"text", g.prepared().echo}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
    return {sse_data(object(std::move(choices)))};
  }

  std::vector<std::string> stream_delta(const Generation& g, const ChoiceDelta& d) override {
    json c = {{"index", d.choice}, {"text", d.content}};
    c["logprobs"] = d.logprobs.empty() ? json(nullptr) : completion_logprobs(d.logprobs, 0);
    c["finish_reason"] = d.finish_reason ? json(*d.finish_reason) : json(nullptr);
    return {sse_data(object(json::array({std::move(c)})))};
  }

  std::vector<std::string> stream_end(const Generation& g) override {
    std::vector<std::string> out;
    if (include_usage_) {
      json c = object(json::array());
      c["usage"] = openai_usage(g);
      out.push_back(sse_data(c));
    }
    out.push_back("data: [DONE]\n\n");
    return out;
  }

  std::vector<std::string> stream_error(const ApiError& e) override { return {sse_data(e.openai_json()), "data: [DONE]\n\n"}; }

  json response(const Generation& g) override {
    json choices = json::array();
    const auto& rs = g.results();
    for (size_t i = 0; i < rs.size(); ++i) {
      json c = {{"index", i}, {"text", g.prepared().echo + rs[i].content}};
      c["logprobs"] = g.prepared().req.logprobs ? completion_logprobs(rs[i].logprobs, g.prepared().echo.size()) : json(nullptr);
      c["finish_reason"] = rs[i].finish_reason;
      choices.push_back(std::move(c));
    }
    json o = object(std::move(choices));
    o["usage"] = openai_usage(g);
    return o;
  }

  json error(const ApiError& e) const override { return e.openai_json(); }

 private:
  std::string model_;
  bool include_usage_;
  std::string id_;
  int64_t created_;
};

}  // namespace

std::unique_ptr<Formatter> openai_chat_formatter(const std::string& model, bool include_usage) {
  return std::make_unique<ChatFormatter>(model, include_usage);
}

std::unique_ptr<Formatter> openai_completion_formatter(const std::string& model, bool include_usage) {
  return std::make_unique<CompletionFormatter>(model, include_usage);
}

}  // namespace dsv4::server

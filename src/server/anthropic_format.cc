// Anthropic's Messages wire format: the message object and the streaming event sequence
// message_start, (content_block_start, content_block_delta*, content_block_stop)*, message_delta,
// message_stop. Thinking, text and tool_use blocks are opened as the reply moves between them.
#include <random>

#include <fmt/format.h>

#include "server/formatter.h"

namespace dsv4::server {

using nlohmann::json;

namespace {

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

json parse_or_wrap(const std::string& args) {
  json j = json::parse(args, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json{{"arguments", args}};
  return j;
}

// "call_..." ids of the OpenAI side become "toolu_..." ones for Anthropic clients.
std::string tool_use_id(const std::string& id) { return id.rfind("call_", 0) == 0 ? "toolu_" + id.substr(5) : id; }

class MessagesFormatter : public Formatter {
 public:
  enum class Block { kNone, kThinking, kText, kTool };
  explicit MessagesFormatter(std::string model) : model_(std::move(model)), id_(random_id("msg_")) {}

  std::string stop_reason(const ChoiceResult& r) const {
    if (r.finish_reason == "tool_calls") return "tool_use";
    if (r.finish_reason == "length") return "max_tokens";
    if (r.finish_reason == "stop" && !r.stop_sequence.empty()) return "stop_sequence";
    return "end_turn";
  }
  json stop_sequence(const ChoiceResult& r) const {
    if (stop_reason(r) == "stop_sequence") return r.stop_sequence;
    return nullptr;
  }

  json usage(const Generation& g) const {
    const engine::Usage& u = g.usage();
    return {{"input_tokens", u.prompt_tokens - u.cached_tokens},
            {"output_tokens", u.completion_tokens},
            {"cache_read_input_tokens", u.cached_tokens},
            {"cache_creation_input_tokens", 0}};
  }

  std::vector<std::string> stream_start(const Generation& g) override {
    const int64_t in = static_cast<int64_t>(g.prepared().req.prompt.size());
    json msg = {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", json::array()},
                {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                {"usage", {{"input_tokens", in}, {"output_tokens", 0}, {"cache_read_input_tokens", 0}, {"cache_creation_input_tokens", 0}}}};
    return {sse_event("message_start", {{"type", "message_start"}, {"message", msg}})};
  }

  void close_block(std::vector<std::string>& out) {
    if (open_ == Block::kNone) return;
    if (open_ == Block::kThinking)
      out.push_back(sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", {{"type", "signature_delta"}, {"signature", ""}}}}));
    out.push_back(sse_event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}}));
    open_ = Block::kNone;
    ++index_;
  }

  void open_block(std::vector<std::string>& out, Block b, json block) {
    close_block(out);
    open_ = b;
    out.push_back(sse_event("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", std::move(block)}}));
  }

  std::vector<std::string> stream_delta(const Generation& g, const ChoiceDelta& d) override {
    std::vector<std::string> out;
    if (!d.reasoning.empty()) {
      if (open_ != Block::kThinking) open_block(out, Block::kThinking, {{"type", "thinking"}, {"thinking", ""}});
      out.push_back(sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", {{"type", "thinking_delta"}, {"thinking", d.reasoning}}}}));
    }
    if (!d.content.empty()) {
      if (open_ != Block::kText) open_block(out, Block::kText, {{"type", "text"}, {"text", ""}});
      out.push_back(sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", {{"type", "text_delta"}, {"text", d.content}}}}));
    }
    for (const ToolCallDelta& t : d.tool_calls) {
      if (!t.id.empty()) {
        open_block(out, Block::kTool, {{"type", "tool_use"}, {"id", tool_use_id(t.id)}, {"name", t.name}, {"input", json::object()}});
      } else if (!t.arguments.empty()) {
        out.push_back(sse_event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_},
                                                         {"delta", {{"type", "input_json_delta"}, {"partial_json", t.arguments}}}}));
      }
    }
    return out;
  }

  std::vector<std::string> stream_end(const Generation& g) override {
    std::vector<std::string> out;
    close_block(out);
    const ChoiceResult& r = g.results().at(0);
    out.push_back(sse_event("message_delta", {{"type", "message_delta"},
                                              {"delta", {{"stop_reason", stop_reason(r)}, {"stop_sequence", stop_sequence(r)}}},
                                              {"usage", usage(g)}}));
    out.push_back(sse_event("message_stop", {{"type", "message_stop"}}));
    return out;
  }

  std::vector<std::string> stream_error(const ApiError& e) override { return {sse_event("error", e.anthropic_json())}; }

  json response(const Generation& g) override {
    const ChoiceResult& r = g.results().at(0);
    json content = json::array();
    if (!r.reasoning.empty()) content.push_back({{"type", "thinking"}, {"thinking", r.reasoning}, {"signature", ""}});
    if (!r.content.empty()) content.push_back({{"type", "text"}, {"text", r.content}});
    for (const auto& t : r.tool_calls)
      content.push_back({{"type", "tool_use"}, {"id", tool_use_id(t.id)}, {"name", t.name}, {"input", parse_or_wrap(t.arguments)}});
    return {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", std::move(content)},
            {"stop_reason", stop_reason(r)}, {"stop_sequence", stop_sequence(r)}, {"usage", usage(g)}};
  }

  json error(const ApiError& e) const override { return e.anthropic_json(); }

 private:
  std::string model_;
  std::string id_;
  Block open_ = Block::kNone;
  int index_ = 0;
};

}  // namespace

std::unique_ptr<Formatter> anthropic_messages_formatter(const std::string& model) {
  return std::make_unique<MessagesFormatter>(model);
}

}  // namespace dsv4::server

// One request's run on the engine, in the server's terms: the prompt is built from a parsed
// request (chat template, tools, FIM, constraints), submitted, and the engine's token events are
// turned into per-choice deltas of reasoning, content, tool calls and logprobs (parsing the
// model's DSML as it streams), while the complete result is accumulated for non-stream replies.
// HTTP-free: the endpoints format what this produces.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/prefix_cache.h"
#include "chat/completion_parser.h"
#include "engine/engine.h"
#include "server/api_error.h"
#include "server/chat_request.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::constrain {
class Vocabulary;
}

namespace dsv4::server {

// What the endpoints run on; owned by the server's caller.
struct Backend {
  engine::Engine* engine = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::shared_ptr<const constrain::Vocabulary> vocab;  // for constrained decoding (null: none)
  cache::PrefixCache* cache = nullptr;                 // prefix cache (null: every prompt is prefilled)
  std::string model_id;
  int64_t max_context = 0;
  int64_t default_max_tokens = 4096;
  bool default_thinking = true;
  int32_t eos_id = 1;
};

// A request ready for the engine.
struct Prepared {
  engine::Request req;
  bool chat = true;        // parse the output as a chat reply (reasoning / content / tool calls)
  bool thinking = false;   // the output starts inside the reasoning
  std::string echo;        // completions with echo: the prompt text, reported first
  ToolChoice tool_choice = ToolChoice::kAuto;
};

// Model names a request may use: the served id and DeepSeek's API names. Sets *thinking to the
// mode the name implies (deepseek-chat: off, deepseek-reasoner: on). False for an unknown name.
bool resolve_model(const Backend& b, const std::string& name, std::optional<bool>* thinking);

MaybeError prepare_chat(const Backend& b, const ChatRequest& r, Prepared* out);
MaybeError prepare_completion(const Backend& b, const CompletionRequest& r, Prepared* out);

struct TopLogprob {
  std::string token;
  std::vector<int> bytes;
  double logprob = 0;
};
struct LogprobEntry {
  TopLogprob tok;
  std::vector<TopLogprob> top;
};

struct ToolCallDelta {
  int index = 0;
  std::string id, name;   // set on a call's first delta
  std::string arguments;  // JSON text (all of it, when the call completes)
};

struct ChoiceDelta {
  int choice = 0;
  std::string reasoning, content;
  std::vector<ToolCallDelta> tool_calls;
  std::vector<LogprobEntry> logprobs;
  std::optional<std::string> finish_reason;  // the choice's last delta
  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty() && logprobs.empty() && !finish_reason; }
};

struct ToolCallOut {
  std::string id, name, arguments;
};

struct ChoiceResult {
  std::string reasoning, content;
  std::vector<ToolCallOut> tool_calls;
  std::vector<LogprobEntry> logprobs;
  std::string finish_reason;
  int64_t reasoning_tokens = 0;
  int64_t tokens = 0;
  bool tool_calls_in_reasoning = false;
  bool saw_eos = false;  // ended by the model's end-of-sentence token (not a stop string)
  std::string stop_sequence;  // ended by this stop string
  std::vector<std::string> parse_errors;
};

class Generation {
 public:
  Generation(const Backend& b, Prepared p);
  ~Generation();  // cancels the request if it is still running

  // Waits up to `wait` for the engine and returns the deltas produced (maybe none).
  std::vector<ChoiceDelta> poll(std::chrono::milliseconds wait);
  bool done() const { return done_; }
  // Ends the request early; `timed_out` reports the choices as finished by length.
  void cancel(bool timed_out = false);

  const std::vector<ChoiceResult>& results() const { return results_; }
  const engine::Usage& usage() const { return usage_; }
  const std::optional<std::string>& error() const { return error_; }
  // The error as the client sees it: 400 for the engine refusing the request (invalid, or too
  // large for its KV budget), 500 for an internal error.
  ApiError api_error() const;
  const Prepared& prepared() const { return p_; }
  int64_t reasoning_tokens() const;
  // Time from submission to the first token (nullopt before it).
  std::optional<double> ttft_seconds() const;
  // Seconds between consecutive tokens of each choice, since the last call (for metrics).
  std::vector<double> take_token_gaps();

 private:
  void use_cache();
  struct ChoiceState;
  void on_event(engine::Event& e, std::vector<ChoiceDelta>& out);
  void apply_parse_events(int c, const std::vector<chat::ParseEvent>& ev, ChoiceDelta& d);
  void begin_call(ChoiceState& s, int index, const std::string& name, ChoiceDelta& d);
  void finish_choice(int c, engine::FinishReason why, ChoiceDelta& d);
  LogprobEntry logprob_entry(int32_t token, const engine::TokenLogprob& lp) const;

  const Backend& b_;
  Prepared p_;
  std::shared_ptr<engine::Stream> stream_;
  std::vector<std::unique_ptr<ChoiceState>> st_;
  std::vector<ChoiceResult> results_;
  engine::Usage usage_;
  std::optional<std::string> error_;
  engine::Event::ErrorKind error_kind_ = engine::Event::ErrorKind::kInternal;
  bool done_ = false;
  std::atomic<bool> timed_out_{false};
  int32_t think_end_id_ = -1;
  std::chrono::steady_clock::time_point start_;
  std::optional<std::chrono::steady_clock::time_point> first_token_;
  std::vector<double> gaps_;
};

// A fresh tool call id ("call_" + 24 random hex digits).
std::string new_tool_call_id();

}  // namespace dsv4::server

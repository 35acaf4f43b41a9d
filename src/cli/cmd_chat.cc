// `dsv4 chat`: an interactive multi-turn terminal chat. The conversation's state stays in the
// engine between turns: each reply ends with a snapshot, and the next turn's prompt is that
// snapshot's tokens plus only the newly rendered text, so turn N prefills just its own tokens.
// /reset clears the conversation, /mode chat|thinking switches the encoding (and resets),
// /quit leaves; Ctrl-C cancels the running reply and returns to the prompt.
#include <csignal>
#include <iostream>

#include <fmt/format.h>

#include "chat/chat_encoder.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "cli/reply_stream.h"
#include "engine/engine.h"

namespace dsv4::cli {
namespace {

std::atomic<bool> g_interrupt{false};
extern "C" void on_sigint(int) { g_interrupt = true; }

struct ChatCliOptions {
  std::string model_dir, mode = "chat", effort, system;
  int n = 512;
  float temperature = 1.0f, top_p = 1.0f;
  uint64_t seed = 0;
  bool no_mtp = false;
};

class Conversation {
 public:
  Conversation(const Tokenizer& tok, chat::ChatOptions opts, std::string system)
      : tok_(tok), opts_(opts), system_(std::move(system)) {
    opts_.drop_thinking = false;  // keep earlier reasoning so the rendered history only grows
    reset();
  }
  void reset() {
    messages_.clear();
    if (!system_.empty()) messages_.push_back({.role = "system", .content = system_});
    tokens_.clear();
    rendered_.clear();
    snapshot_.reset();
  }
  void set_thinking(bool t) {
    opts_.thinking = t;
    reset();
  }
  bool thinking() const { return opts_.thinking; }

  // The prompt for a new user message: the conversation's tokens so far plus the new text.
  Result<std::vector<int32_t>> add_user(const std::string& text) {
    messages_.push_back({.role = "user", .content = text});
    DSV4_ASSIGN_OR_RETURN(std::string full, chat::render_chat(messages_, opts_));
    if (!snapshot_ || full.compare(0, rendered_.size(), rendered_) != 0) {
      snapshot_.reset();  // the history renders differently: start over
      tokens_ = tok_.encode(full);
    } else {
      const auto more = tok_.encode(std::string_view(full).substr(rendered_.size()));
      tokens_.insert(tokens_.end(), more.begin(), more.end());
    }
    rendered_ = full;
    return tokens_;
  }

  // Records the reply: the tokens the model produced (+ EOS if it was cut short) and the text the
  // encoder will render for it, so the next turn can extend both.
  void add_reply(const Reply& r, int32_t eos) {
    chat::Message a{.role = "assistant", .content = r.content};
    a.reasoning_content = r.reasoning;
    messages_.push_back(a);
    tokens_.insert(tokens_.end(), r.tokens.begin(), r.tokens.end());
    if (tokens_.empty() || tokens_.back() != eos) tokens_.push_back(eos);
    auto full = chat::render_chat(messages_, opts_);
    // A reply cut by max_tokens still continues from its snapshot (an EOS is appended to the
    // tokens); a cancelled one has no snapshot, and then the next turn re-prefills.
    if (!full.ok() || !r.snapshot) {
      snapshot_.reset();
      rendered_.clear();
      if (full.ok()) rendered_ = *full;
      return;
    }
    rendered_ = *full;
    snapshot_ = r.snapshot;
  }
  void drop_last_user() { messages_.pop_back(); snapshot_.reset(); rendered_.clear(); tokens_.clear(); }
  std::shared_ptr<const engine::Snapshot> snapshot() const { return snapshot_; }

 private:
  const Tokenizer& tok_;
  chat::ChatOptions opts_;
  std::string system_;
  std::vector<chat::Message> messages_;
  std::vector<int32_t> tokens_;
  std::string rendered_;
  std::shared_ptr<const engine::Snapshot> snapshot_;
};

int chat_main(const ChatCliOptions& o) {
  auto lm = load_model_dir(o.model_dir);
  if (!lm.ok()) return fail("chat", lm.message());
  if (!lm->tokenizer) return fail("chat", fmt::format("no tokenizer.json in {}", lm->dir));
  auto opts = chat_options(o.mode, o.effort);
  if (!opts.ok()) return fail("chat", opts.message());
  engine::EngineOptions eo;
  if (o.no_mtp) eo.speculative = 0;
  engine::Engine e(*lm->model, &*lm->tokenizer, eo);
  Conversation conv(*lm->tokenizer, *opts, o.system);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  const int32_t eos = static_cast<int32_t>(lm->model->config().eos_token_id);
  fmt::print("dsv4 chat ({} mode). /reset, /mode chat|thinking, /quit; Ctrl-C stops a reply.\n",
             conv.thinking() ? "thinking" : "chat");
  int turn = 0;
  std::string line;
  for (;;) {
    fmt::print("> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    g_interrupt = false;
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    if (line == "/reset") {
      conv.reset();
      fmt::print("[conversation cleared]\n");
      continue;
    }
    if (line.rfind("/mode", 0) == 0) {
      const std::string m = line.size() > 6 ? line.substr(6) : "";
      if (m != "chat" && m != "thinking") {
        fmt::print("[usage: /mode chat|thinking]\n");
        continue;
      }
      conv.set_thinking(m == "thinking");
      fmt::print("[{} mode; conversation cleared]\n", m);
      continue;
    }
    auto prompt = conv.add_user(line);
    if (!prompt.ok()) {
      fmt::print("[error: {}]\n", prompt.message());
      conv.drop_last_user();
      continue;
    }
    engine::Request req;
    req.prompt = *prompt;
    req.sampling.temperature = o.temperature;
    req.sampling.top_p = o.top_p;
    req.sampling.seed = o.seed + static_cast<uint64_t>(turn);
    req.max_tokens = o.n;
    req.snapshot = conv.snapshot();
    req.snapshot_at_end = true;
    Reply r = stream_reply(e, req, conv.thinking(), true, &g_interrupt);
    if (!r.error.empty()) {
      fmt::print("[error: {}]\n", r.error);
      conv.drop_last_user();
      continue;
    }
    ++turn;
    conv.add_reply(r, eos);
    fmt::print("[turn {}: prompt {} tokens, {} cached, {} prefilled, {} generated, {}]\n", turn,
               r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.prefilled_tokens, r.usage.completion_tokens,
               engine::finish_reason_name(r.finish));
    fmt::print("[{}]\n", speed_line(r));
  }
  return 0;
}

}  // namespace

void add_chat(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("chat", "Interactive multi-turn chat in the terminal (state kept between turns)");
  auto o = std::make_shared<ChatCliOptions>();
  cmd->add_option("-m,--model", o->model_dir, "checkpoint directory (default: the built-in default model)");
  cmd->add_option("--mode", o->mode, "chat or thinking (default chat)");
  cmd->add_option("--reasoning-effort", o->effort, "thinking mode: high or max");
  cmd->add_option("--system", o->system, "system prompt");
  cmd->add_option("-n,--max-tokens", o->n, "most tokens per reply")->check(CLI::PositiveNumber);
  cmd->add_option("--temp", o->temperature, "temperature (default 1.0, the V4 card's)");
  cmd->add_option("--top-p", o->top_p, "nucleus sampling threshold (default 1.0)");
  cmd->add_option("--seed", o->seed, "random seed");
  cmd->add_flag("--no-mtp", o->no_mtp, "plain decoding (no MTP speculative decoding)");
  cmd->callback([rc, o] { *rc = chat_main(*o); });
}

}  // namespace dsv4::cli

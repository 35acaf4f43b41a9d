#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/loaded_model.h"
#include "cli/reply_stream.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {
namespace {

struct RunOptions {
  std::string model_dir;
  std::string tokens;
  std::string prompt;
  int n = 16;
  int chunk = 256;
  engine::SamplingParams sampling{0.0f, 0, 1.0f, 0.0f, 0};
  bool ignore_eos = false;
  bool raw = false, no_mtp = false, quiet = false;
  int draft = 1;
  std::string mode = "chat", effort;
};

Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t pos = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &pos);
    } catch (...) {
      return error("--tokens: '{}' is not an integer token id", item);
    }
    if (pos != item.size() || v < 0 || v > INT32_MAX) return error("--tokens: '{}' is not a valid token id", item);
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

int run(const RunOptions& o) {
  auto lm = load_model_dir(o.model_dir);
  if (!lm.ok()) return fail("run", lm.message());
  const model::Model& m = *lm->model;
  const Tokenizer* tok = lm->tokenizer ? &*lm->tokenizer : nullptr;
  std::vector<int32_t> prompt;
  bool thinking = false;
  if (!o.tokens.empty() && !o.prompt.empty()) return fail("run", "give either --tokens or --prompt, not both");
  if (!o.tokens.empty()) {
    auto ids = parse_ids(o.tokens);
    if (!ids.ok()) return fail("run", ids.message());
    prompt = *ids;
  } else if (!o.prompt.empty()) {
    if (!tok) return fail("run", fmt::format("--prompt needs a tokenizer: no tokenizer.json in {}", lm->dir));
    std::string text = o.prompt;
    if (!o.raw) {  // a single-turn chat in the V4 encoding
      auto opts = chat_options(o.mode, o.effort);
      if (!opts.ok()) return fail("run", opts.message());
      thinking = opts->thinking;
      chat::Message user;
      user.role = "user";
      user.content = o.prompt;
      auto rendered = chat::render_chat({user}, *opts);
      if (!rendered.ok()) return fail("run", rendered.message());
      text = *rendered;
    }
    prompt = tok->encode(text);
  } else {
    prompt = {static_cast<int32_t>(m.config().bos_token_id)};
  }
  engine::EngineOptions eo;
  eo.step_tokens = o.chunk;
  eo.speculative = o.no_mtp ? 0 : o.draft;
  engine::Engine e(m, tok, eo);
  engine::Request req;
  req.prompt = prompt;
  req.sampling = o.sampling;
  req.max_tokens = o.n;
  req.ignore_eos = o.ignore_eos;
  Reply r = stream_reply(e, req, thinking, tok != nullptr && !o.quiet, nullptr);
  if (!r.error.empty()) return fail("run", r.error);
  std::string ids;
  for (size_t i = 0; i < r.tokens.size(); ++i) ids += (i ? "," : "") + std::to_string(r.tokens[i]);
  fmt::print("tokens: {}\n", ids);
  fmt::print("finish: {}\n", engine::finish_reason_name(r.finish));
  fmt::print("{}\n", speed_line(r));
  return 0;
}

}  // namespace

void add_run(CLI::App& app, int* rc) {
  auto* cmd = app.add_subcommand("run", "Generate tokens (greedy by default; sampled with --temp)");
  auto o = std::make_shared<RunOptions>();
  cmd->add_option("-m,--model", o->model_dir, "checkpoint directory (default: the built-in default model)");
  cmd->add_option("--tokens", o->tokens, "prompt token ids, comma separated");
  cmd->add_option("-p,--prompt", o->prompt, "prompt text (needs tokenizer.json in the model directory)");
  cmd->add_option("-n,--n-predict", o->n, "tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temp", o->sampling.temperature, "temperature; 0 = greedy (default 0)");
  cmd->add_option("--top-k", o->sampling.top_k, "sample from the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", o->sampling.top_p, "nucleus sampling threshold (1 = off)");
  cmd->add_option("--min-p", o->sampling.min_p, "drop tokens below min_p * p(best) (0 = off)");
  cmd->add_option("--seed", o->sampling.seed, "random seed for sampling");
  cmd->add_option("--chunk", o->chunk, "tokens per engine step (prefill chunk; results do not depend on it)")->check(CLI::PositiveNumber);
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating after the end-of-sequence token");
  cmd->add_option("--mode", o->mode, "chat encoding of -p: chat or thinking (default chat)");
  cmd->add_option("--reasoning-effort", o->effort, "thinking mode: high or max");
  cmd->add_flag("--raw", o->raw, "encode -p as plain text instead of a chat turn");
  cmd->add_flag("--no-mtp", o->no_mtp, "plain decoding (no MTP speculative decoding)");
  cmd->add_option("--draft", o->draft, "MTP draft tokens per step (0 = off; the model ships one MTP layer)")
      ->check(CLI::Range(0, 1));
  cmd->add_flag("-q,--quiet", o->quiet, "do not stream the reply text");
  cmd->callback([rc, o] { *rc = run(*o); });
}

}  // namespace dsv4::cli

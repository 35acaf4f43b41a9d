#include <algorithm>
#include <filesystem>
#include <mutex>
#include <tuple>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/dist_cli.h"
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
  int copies = 1;
  std::string logits_out;
  dist::DistOptions dist;
};

// Every logits row tokens were drawn from, sorted by (request, choice, position): a file two
// layouts of the same run must reproduce byte for byte. Record: u64 id, i32 choice, i64 pos,
// u32 n, n x f32.
struct LogitsLog {
  struct Row {
    uint64_t id;
    int choice;
    int64_t pos;
    std::vector<float> v;
  };
  std::mutex mu;
  std::vector<Row> rows;
  Status write(const std::string& path) {
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return std::tie(a.id, a.choice, a.pos) < std::tie(b.id, b.choice, b.pos);
    });
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return error("--logits-out: cannot write {}", path);
    for (const Row& r : rows) {
      const uint32_t n = static_cast<uint32_t>(r.v.size());
      std::fwrite(&r.id, sizeof r.id, 1, f);
      std::fwrite(&r.choice, sizeof r.choice, 1, f);
      std::fwrite(&r.pos, sizeof r.pos, 1, f);
      std::fwrite(&n, sizeof n, 1, f);
      std::fwrite(r.v.data(), sizeof(float), n, f);
    }
    if (std::fclose(f) != 0) return error("--logits-out: writing {} failed", path);
    return ok_status();
  }
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
  auto lm = load_model_dir(o.model_dir, o.dist);
  if (!lm.ok()) return fail("run", lm.message());
  if (lm->worker_rc) return *lm->worker_rc;
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
  LogitsLog log;
  if (!o.logits_out.empty())
    eo.on_logits = [&log](uint64_t id, int choice, int64_t pos, std::span<const float> v) {
      std::lock_guard<std::mutex> l(log.mu);
      log.rows.push_back({id, choice, pos, std::vector<float>(v.begin(), v.end())});
    };
  engine::Engine e(m, tok, eo);
  engine::Request req;
  req.prompt = prompt;
  req.sampling = o.sampling;
  req.max_tokens = o.n;
  req.ignore_eos = o.ignore_eos;
  // --copies K: K - 1 more requests beside the first, prompt i one token shorter each (at least
  // one token), seed + i: they run batched with it.
  std::vector<std::shared_ptr<engine::Stream>> others;
  for (int i = 1; i < o.copies; ++i) {
    engine::Request r2 = req;
    r2.prompt.resize(std::max<size_t>(1, prompt.size() > static_cast<size_t>(i) ? prompt.size() - i : 1));
    r2.sampling.seed = req.sampling.seed + i;
    others.push_back(e.submit(std::move(r2)));
  }
  Reply r = stream_reply(e, req, thinking, tok != nullptr && !o.quiet, nullptr);
  if (!r.error.empty()) return fail("run", r.error);
  std::string ids;
  for (size_t i = 0; i < r.tokens.size(); ++i) ids += (i ? "," : "") + std::to_string(r.tokens[i]);
  fmt::print("tokens: {}\n", ids);
  for (size_t i = 0; i < others.size(); ++i) {
    std::string more;
    engine::Event ev;
    while (others[i]->next(&ev)) {
      if (ev.kind == engine::Event::Kind::kError) return fail("run", ev.error);
      if (ev.kind == engine::Event::Kind::kToken) more += (more.empty() ? "" : ",") + std::to_string(ev.token);
    }
    fmt::print("tokens[{}]: {}\n", i + 1, more);
  }
  fmt::print("finish: {}\n", engine::finish_reason_name(r.finish));
  fmt::print("{}\n", speed_line(r));
  if (lm->dist) {
    const dist::Traffic t = lm->dist->traffic();
    const int64_t fed = e.stats().forward_tokens;
    fmt::print("dist: {} ranks (pp {} x ep {}); sent {} bytes in {} messages; {:.0f} bytes per token fed "
               "(floor {:.0f})\n",
               lm->dist->layout().ranks(), lm->dist->layout().pp, lm->dist->layout().ep, t.bytes, t.messages,
               static_cast<double>(t.bytes) / std::max<int64_t>(1, fed),
               comm_floor_bytes_per_token(m.config(), lm->dist->layout()));
  }
  if (!o.logits_out.empty()) {
    if (auto st = log.write(o.logits_out); !st.ok()) return fail("run", st.message());
  }
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
  cmd->add_option("--copies", o->copies, "run K requests batched: the prompt, then it one token shorter each (seed + i)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--logits-out", o->logits_out, "write every logits row tokens are drawn from (for layout comparisons)");
  add_dist_options(cmd, &o->dist);
  cmd->callback([rc, o] { *rc = run(*o); });
}

}  // namespace dsv4::cli

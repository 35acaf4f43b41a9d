// dsv4 train: trains a V4 model from scratch (or resumes) on text files, with the trainer of
// src/train, and exports the result in the Hugging Face layout the engine loads (train/export.h).
// OUT holds the state file (train_state.bin, resumable bit for bit), the loss log (loss.tsv: step,
// losses, held-out loss at each evaluation, learning rate, gradient norm, tokens/s) and, at the
// end, the exported checkpoint with config.json and a copy of the tokenizer.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/thread_pool.h"
#include "cli/commands.h"
#include "io/config.h"
#include "tokenizer/tokenizer.h"
#include "train/export.h"
#include "train/trainer.h"

namespace dsv4::cli {
namespace {
namespace fs = std::filesystem;

struct TrainArgs {
  std::string config, tokenizer, out, heldout;
  std::vector<std::string> data;
  train::TrainOptions o;
  bool resume = false;
  int64_t eval_every = 100, save_every = 200, log_every = 10;
  int threads = 0;
};

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Keeps the log's header and the rows of steps <= `step` (a resumed run rewrites the rest).
Status trim_log(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return ok_status();
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#' || std::stoll(line.substr(0, line.find('\t'))) <= step) kept += line + "\n";
  }
  in.close();
  std::ofstream out(path, std::ios::trunc);
  out << kept;
  return out ? ok_status() : error("{}: cannot write", path.string());
}

// The baseline a language model must beat by far: the held-out cross-entropy of the training
// text's token frequencies (add-one smoothed over the whole vocabulary).
double unigram_cross_entropy(const std::vector<int32_t>& train, const std::vector<int32_t>& heldout, int64_t vocab) {
  if (heldout.empty()) return NAN;
  std::vector<double> count(vocab, 1.0);
  for (int32_t t : train) count[t] += 1.0;
  const double total = static_cast<double>(train.size() + vocab);
  double nll = 0;
  for (int32_t t : heldout) nll -= std::log(count[t] / total);
  return nll / static_cast<double>(heldout.size());
}

Status run_train(TrainArgs a) {
  if (a.threads > 0) set_num_threads(a.threads);
  if (a.o.steps < 1 || a.o.batch < 1 || a.o.seq < 2) return error("--steps and --batch must be >= 1, --seq >= 2");
  DSV4_ASSIGN_OR_RETURN(std::string config_text, read_file(a.config));
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, parse_model_config(config_text, a.config));
  DSV4_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::load(a.tokenizer));
  if (tok.vocab_size() > cfg.vocab_size)
    return error("{}: {} ids do not fit the config's vocab_size {}", a.tokenizer, tok.vocab_size(), cfg.vocab_size);
  std::vector<int32_t> train_ids, heldout_ids;
  for (const std::string& f : a.data) {
    DSV4_ASSIGN_OR_RETURN(std::string text, read_file(f));
    const std::vector<int32_t> ids = tok.encode(text);
    train_ids.insert(train_ids.end(), ids.begin(), ids.end());
  }
  if (static_cast<int64_t>(train_ids.size()) < a.o.seq + 1)
    return error("the training text has {} tokens; --seq {} needs at least {}", train_ids.size(), a.o.seq, a.o.seq + 1);
  if (!a.heldout.empty()) {
    DSV4_ASSIGN_OR_RETURN(std::string text, read_file(a.heldout));
    heldout_ids = tok.encode(text);
  }
  fmt::print(stderr, "train: {} training tokens, {} held-out tokens, vocab {}\n", train_ids.size(), heldout_ids.size(),
             tok.vocab_size());
  const double unigram = unigram_cross_entropy(train_ids, heldout_ids, cfg.vocab_size);
  if (!heldout_ids.empty())
    fmt::print(stderr, "train: a unigram model of the training text (add-one) scores the held-out text at {:.4f} nats "
               "(ppl {:.2f})\n", unigram, std::exp(unigram));

  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) return error("{}: cannot create: {}", a.out, ec.message());
  const fs::path state = fs::path(a.out) / "train_state.bin", log_path = fs::path(a.out) / "loss.tsv";
  train::Params<float> ps(cfg);
  ps.init_random(a.o.seed);
  a.o.optim.total_steps = a.o.steps;
  train::Trainer tr(ps, a.o, std::move(train_ids), std::move(heldout_ids));
  if (a.resume) {
    DSV4_TRY(tr.load_state(state.string()));
    DSV4_TRY(trim_log(log_path, tr.step()));
    fmt::print(stderr, "train: resumed at step {}\n", tr.step());
  } else {
    std::ofstream(log_path, std::ios::trunc) << "# step\tloss\tmain\tmtp\tindexer_kl\theldout\tlr\tgrad_norm\ttokens_per_s\tgemm_gflops_per_s\n";
  }
  std::ofstream log(log_path, std::ios::app);
  const int64_t tokens_per_step = a.o.batch * a.o.seq;
  double total_seconds = 0, total_flops = 0;
  int64_t timed_steps = 0;
  while (tr.step() < a.o.steps) {
    const train::StepLog s = tr.train_step();
    if (!std::isfinite(s.loss)) return error("step {}: the loss is not finite ({}); lower --lr", s.step, s.loss);
    const bool eval = !tr.options().eval_tokens || a.heldout.empty() ? false
                                                                     : (s.step % a.eval_every == 0 || s.step == a.o.steps);
    const double held = eval ? tr.heldout_loss() : NAN;
    const double tps = tokens_per_step / s.seconds;
    log << fmt::format("{}\t{:.5f}\t{:.5f}\t{:.5f}\t{:.5f}\t{}\t{:.3e}\t{:.4f}\t{:.1f}\t{:.2f}\n", s.step, s.loss, s.main,
                       s.mtp, s.indexer_kl, eval ? fmt::format("{:.5f}", held) : "", s.lr, s.grad_norm, tps,
                       s.gemm_flops / s.seconds / 1e9);
    total_seconds += s.seconds;
    total_flops += s.gemm_flops;
    ++timed_steps;
    log.flush();
    if (s.step % a.log_every == 0 || eval || s.step == a.o.steps)
      fmt::print(stderr, "step {}/{}  loss {:.4f} (main {:.4f} mtp {:.4f} kl {:.4f}){}  lr {:.2e}  |g| {:.3f}  {:.0f} tok/s\n",
                 s.step, a.o.steps, s.loss, s.main, s.mtp, s.indexer_kl,
                 eval ? fmt::format("  held-out {:.4f} (ppl {:.2f})", held, std::exp(held)) : "", s.lr, s.grad_norm, tps);
    if (a.save_every > 0 && s.step % a.save_every == 0) DSV4_TRY(tr.save_state(state.string()));
  }
  DSV4_TRY(tr.save_state(state.string()));
  if (timed_steps > 0)
    fmt::print(stderr, "train: {} steps in {:.1f} s: {:.1f} tokens/s, matrix products {:.2f} GFLOP/step at {:.2f} GFLOP/s\n",
               timed_steps, total_seconds, timed_steps * tokens_per_step / total_seconds, total_flops / timed_steps / 1e9,
               total_flops / total_seconds / 1e9);
  DSV4_TRY(train::export_checkpoint(ps, config_text, a.out));
  if (!a.heldout.empty()) {
    const double held = tr.heldout_loss();
    fmt::print(stderr, "train: held-out {:.4f} nats (ppl {:.2f}) against the unigram's {:.4f} (ppl {:.2f})\n", held,
               std::exp(held), unigram, std::exp(unigram));
  }
  const fs::path tok_copy = fs::path(a.out) / "tokenizer.json";
  if (!fs::exists(tok_copy) || !fs::equivalent(a.tokenizer, tok_copy)) {
    fs::copy_file(a.tokenizer, tok_copy, fs::copy_options::overwrite_existing, ec);
    if (ec) return error("{}: cannot copy the tokenizer: {}", a.tokenizer, ec.message());
  }
  fmt::print(stderr, "train: exported {} (step {})\n", a.out, tr.step());
  return ok_status();
}

}  // namespace

void add_train(CLI::App& app, int* rc) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand("train", "Train a V4 model (Muon + AdamW) on text and export it (src/train)");
  cmd->add_option("--config", args->config, "config.json of the model to train")->required();
  cmd->add_option("--data", args->data, "training text files (concatenated)")->required();
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer.json (e.g. from dsv4 make-tokenizer)")->required();
  cmd->add_option("--out", args->out, "output directory: state, loss.tsv, the exported checkpoint")->required();
  cmd->add_option("--heldout", args->heldout, "held-out text, evaluated every --eval-every steps");
  cmd->add_option("--steps", args->o.steps, "optimizer steps in all (a resumed run continues to this)");
  cmd->add_option("--batch", args->o.batch, "sequences per step");
  cmd->add_option("--seq", args->o.seq, "tokens per sequence");
  cmd->add_option("--lr", args->o.optim.lr, "peak learning rate (Muon and AdamW)");
  cmd->add_option("--warmup", args->o.optim.warmup, "warm-up steps (then cosine decay)");
  cmd->add_option("--min-lr-ratio", args->o.optim.min_lr_ratio, "final learning rate / peak");
  cmd->add_option("--weight-decay", args->o.optim.weight_decay, "decoupled weight decay of the matrices");
  cmd->add_option("--clip", args->o.optim.clip, "global gradient-norm bound (0 = off)");
  cmd->add_option("--mtp-weight", args->o.loss.mtp, "weight of the MTP loss");
  cmd->add_option("--seed", args->o.seed, "initialization and batch-sampling seed");
  cmd->add_option("--eval-every", args->eval_every, "held-out evaluation period (steps)");
  cmd->add_option("--eval-tokens", args->o.eval_tokens, "held-out tokens per evaluation");
  cmd->add_option("--save-every", args->save_every, "state file period (steps; 0 = at the end only)");
  cmd->add_option("--log-every", args->log_every, "progress line period (steps)");
  cmd->add_option("--threads", args->threads, "worker threads (default: all; results depend on it only via timing)");
  cmd->add_flag("--resume", args->resume, "continue from OUT/train_state.bin");
  cmd->callback([args, rc] {
    Status s = run_train(*args);
    *rc = s.ok() ? 0 : fail("train", s.message());
  });
}

}  // namespace dsv4::cli

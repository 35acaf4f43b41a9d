#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "engine/generate.h"
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
  const std::string dir = o.model_dir.empty() ? default_model_dir() : o.model_dir;
  auto model = model::Model::load(dir);
  if (!model.ok()) return fail("run", model.message());
  const auto& cfg = (*model)->config();
  std::optional<Tokenizer> tok;
  const std::string tok_path = (std::filesystem::path(dir) / "tokenizer.json").string();
  if (std::filesystem::exists(tok_path)) {
    auto t = Tokenizer::load(tok_path);
    if (!t.ok()) return fail("run", t.message());
    tok = std::move(*t);
  }
  std::vector<int32_t> prompt;
  if (!o.tokens.empty() && !o.prompt.empty()) return fail("run", "give either --tokens or --prompt, not both");
  if (!o.tokens.empty()) {
    auto ids = parse_ids(o.tokens);
    if (!ids.ok()) return fail("run", ids.message());
    prompt = *ids;
  } else if (!o.prompt.empty()) {
    if (!tok) return fail("run", fmt::format("--prompt needs a tokenizer: {} not found", tok_path));
    prompt = tok->encode(o.prompt);
  } else {
    prompt = {static_cast<int32_t>(cfg.bos_token_id)};
  }
  engine::GenerateOptions g;
  g.max_new_tokens = o.n;
  g.prefill_chunk = o.chunk;
  g.sampling = o.sampling;
  if (!o.ignore_eos) g.stop_ids = {static_cast<int32_t>(cfg.eos_token_id)};
  engine::GenerateStats stats;
  auto out = engine::generate(**model, prompt, g, &stats);
  if (!out.ok()) return fail("run", out.message());
  std::string ids;
  for (size_t i = 0; i < out->size(); ++i) ids += (i ? "," : "") + std::to_string((*out)[i]);
  fmt::print("tokens: {}\n", ids);
  if (tok) fmt::print("text: {}\n", tok->decode(*out));
  fmt::print("prefill: {} tokens in {:.3f} s ({:.1f} tok/s); decode: {} tokens in {:.3f} s ({:.1f} tok/s)\n",
             stats.prompt_tokens, stats.prefill_seconds, stats.prefill_tok_s(), stats.generated_tokens,
             stats.decode_seconds, stats.decode_tok_s());
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
  cmd->add_option("--chunk", o->chunk, "prefill chunk size (results do not depend on it)")->check(CLI::PositiveNumber);
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating after the end-of-sequence token");
  cmd->callback([rc, o] { *rc = run(*o); });
}

}  // namespace dsv4::cli

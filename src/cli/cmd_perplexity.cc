// dsv4 perplexity: the perplexity of a checkpoint on a text file, as llama.cpp's perplexity tool
// measures it, so that users can compare quantizations (a .gguf against its directory, q8_0
// against bf16) on the same text. Windows of --ctx tokens, each a fresh sequence, start every
// --stride tokens; every next token of the text is scored exactly once, by the first window that
// predicts it (with stride < ctx, later windows score only their last `stride` predictions, each
// with at least ctx - stride tokens of context).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "cli/teacher_forced.h"

namespace dsv4::cli {
namespace {

struct PerplexityArgs {
  std::string model_dir;
  std::string text_file;
  int64_t ctx = 512;
  int64_t stride = 0;  // set from --stride; 0 until then, meaning "= ctx"
  bool stride_given = false;
  int64_t chunk = 256;
};

Result<std::string> read_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return error("--text {}: is a directory", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("--text {}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return error("--text {}: read failed", path);
  return ss.str();
}

Status perplexity(PerplexityArgs a) {
  // Options first: a bad command line should not wait for the model to load.
  if (a.ctx < 2) return error("--ctx must be at least 2 (got {})", a.ctx);
  if (!a.stride_given) a.stride = a.ctx;
  if (a.stride < 1 || a.stride > a.ctx)
    return error("--stride must be between 1 and --ctx ({}) (got {})", a.ctx, a.stride);
  DSV4_ASSIGN_OR_RETURN(std::string text, read_text(a.text_file));
  if (text.empty()) return error("--text {}: the file is empty", a.text_file);

  DSV4_ASSIGN_OR_RETURN(LoadedModel lm, load_model_dir(a.model_dir));
  const model::Model& m = *lm.model;
  const int64_t max_ctx = m.config().max_position_embeddings;
  if (a.ctx > max_ctx) return error("--ctx {} is more than the model's {} positions (max_position_embeddings)", a.ctx, max_ctx);
  if (!lm.tokenizer) return error("no tokenizer: {} has no tokenizer.json", lm.dir);
  // As `dsv4 run --raw` and `dsv4 tokenize`: the text as is, no BOS (the tokenizer never adds one).
  const std::vector<int32_t> ids = lm.tokenizer->encode(text);
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n < 2) return error("--text {}: {} token(s); perplexity needs at least 2", a.text_file, n);
  DSV4_TRY(check_token_ids(ids, m.config().vocab_size));
  if (a.ctx > n - 1) {  // one window holds the whole text
    fmt::print(stderr, "perplexity: --ctx {} capped to the text's {} tokens - 1\n", a.ctx, n);
    a.ctx = n - 1;
    a.stride = std::min(a.stride, a.ctx);
  }

  // Window w feeds ids[b, b+len) and predicts ids[b+1, b+len]; targets up to index `scored_to`
  // were scored by earlier windows.
  const int64_t windows = 1 + (n - 1 - a.ctx + a.stride - 1) / a.stride;
  double nll = 0;  // fp64 sum over scored tokens
  int64_t counted = 0, scored_to = 0, w = 0;
  for (int64_t b = 0;; b += a.stride, ++w) {
    const int64_t len = std::min(a.ctx, n - 1 - b);
    const std::span<const int32_t> window = std::span(ids).subspan(b, len);
    DSV4_TRY(forward_rows(m, window, a.chunk, std::max<int64_t>(0, scored_to - b),
                          [&](int64_t i, std::span<const float> row) {
                            nll += token_nll(row, ids[b + i + 1]);
                            ++counted;
                            return ok_status();
                          }));
    scored_to = b + len;
    fmt::print(stderr, "[{}/{}] {} tokens scored, ppl {:.4f}\n", w + 1, windows, counted, std::exp(nll / counted));
    if (scored_to == n - 1) break;
  }
  const double mean = nll / counted;
  fmt::print("perplexity: {} ({} bytes, {} tokens), {} windows of {} tokens, stride {}\n", a.text_file, text.size(), n,
             w + 1, a.ctx, a.stride);
  fmt::print("perplexity={:.10f} tokens={} nll={:.12f}\n", std::exp(mean), counted, mean);
  return ok_status();
}

}  // namespace

void add_perplexity(CLI::App& app, int* rc) {
  auto a = std::make_shared<PerplexityArgs>();
  auto* cmd = app.add_subcommand(
      "perplexity",
      "Perplexity of a checkpoint on a text file (llama.cpp's method: windows of --ctx tokens every --stride "
      "tokens, each a fresh sequence; every token after the first scored once). The text is tokenized as is, "
      "without BOS, as `dsv4 run --raw` does. Last stdout line: perplexity=P tokens=N nll=MEAN (nats)");
  cmd->add_option("-m,--model", a->model_dir, "checkpoint directory or .gguf (default: the built-in default model)");
  cmd->add_option("--text", a->text_file, "UTF-8 text file to score")->required();
  cmd->add_option("--ctx", a->ctx, "tokens per window (default 512; capped by the text's length)");
  auto* stride = cmd->add_option("--stride", a->stride,
                                 "tokens between window starts, 1..ctx (default ctx: disjoint windows); a smaller "
                                 "stride gives each scored token more context and costs ctx/stride times more");
  cmd->add_option("--chunk", a->chunk, "tokens per forward call (results do not depend on it)")
      ->check(CLI::PositiveNumber);
  cmd->callback([rc, a, stride] {
    PerplexityArgs args = *a;
    args.stride_given = stride->count() > 0;
    Status st = perplexity(args);
    *rc = st.ok() ? 0 : fail("perplexity", st.message());
  });
}

}  // namespace dsv4::cli

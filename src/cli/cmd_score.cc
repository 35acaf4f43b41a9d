// dsv4 score: teacher-forced logits of every position of a token sequence (what llama.cpp's
// perplexity tool computes): the negative log-likelihood of each next token, the perplexity, and
// optionally every logits row as raw f32 [n, V] for comparisons with another engine on the same
// file (tests/llamacpp).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "cli/teacher_forced.h"

namespace dsv4::cli {
namespace {

struct ScoreArgs {
  std::string model_dir;
  std::string tokens;       // "1,2,3"
  std::string tokens_file;  // whitespace / comma separated ids
  std::string logits_out;
  int64_t chunk = 256;
};

Result<std::vector<int32_t>> parse_id_list(const std::string& text, const std::string& what) {
  std::vector<int32_t> ids;
  std::string t = text;
  for (char& c : t)
    if (c == ',' || c == '\n' || c == '\r' || c == '\t') c = ' ';
  std::stringstream ss(t);
  std::string item;
  while (ss >> item) {
    size_t pos = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &pos);
    } catch (...) {
    }
    if (pos != item.size() || v < 0 || v > INT32_MAX) return error("{}: '{}' is not a token id", what, item);
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

Status score(const ScoreArgs& a) {
  std::vector<int32_t> ids;
  if (!a.tokens.empty() == !a.tokens_file.empty()) return error("give exactly one of --tokens and --tokens-file");
  if (!a.tokens.empty()) {
    DSV4_ASSIGN_OR_RETURN(ids, parse_id_list(a.tokens, "--tokens"));
  } else {
    std::ifstream in(a.tokens_file);
    if (!in) return error("{}: cannot open", a.tokens_file);
    std::stringstream ss;
    ss << in.rdbuf();
    DSV4_ASSIGN_OR_RETURN(ids, parse_id_list(ss.str(), a.tokens_file));
  }
  if (ids.empty()) return error("no tokens to score");
  DSV4_ASSIGN_OR_RETURN(LoadedModel lm, load_model_dir(a.model_dir));
  const model::Model& m = *lm.model;
  DSV4_TRY(check_token_ids(ids, m.config().vocab_size));
  std::FILE* f = nullptr;
  if (!a.logits_out.empty() && !(f = std::fopen(a.logits_out.c_str(), "wb")))
    return error("--logits-out: cannot write {}", a.logits_out);
  double nll = 0;
  int64_t counted = 0;
  const int64_t n = static_cast<int64_t>(ids.size());
  Status st = forward_rows(m, ids, a.chunk, 0, [&](int64_t i, std::span<const float> row) {
    if (f) std::fwrite(row.data(), sizeof(float), row.size(), f);
    if (i + 1 < n) {
      nll += token_nll(row, ids[i + 1]);
      ++counted;
    }
    return ok_status();
  });
  if (!st.ok()) {
    if (f) std::fclose(f);
    return st;
  }
  if (f && std::fclose(f) != 0) return error("--logits-out: writing {} failed", a.logits_out);
  const double mean = counted ? nll / counted : 0;
  fmt::print("score: {} tokens, mean nll {:.6f}, perplexity {:.4f}\n", n, mean, std::exp(mean));
  return ok_status();
}

}  // namespace

void add_score(CLI::App& app, int* rc) {
  auto a = std::make_shared<ScoreArgs>();
  auto* cmd = app.add_subcommand("score", "Teacher-forced logits of a token sequence: per-token NLL and perplexity");
  cmd->add_option("-m,--model", a->model_dir, "checkpoint directory or .gguf (default: the built-in default model)");
  cmd->add_option("--tokens", a->tokens, "token ids, comma separated");
  cmd->add_option("--tokens-file", a->tokens_file, "file of token ids (whitespace or comma separated)");
  cmd->add_option("--logits-out", a->logits_out, "write every position's logits as raw f32 [n, vocab]");
  cmd->add_option("--chunk", a->chunk, "tokens per forward call (results do not depend on it)")
      ->check(CLI::PositiveNumber);
  cmd->callback([rc, a] {
    Status st = score(*a);
    *rc = st.ok() ? 0 : fail("score", st.message());
  });
}

}  // namespace dsv4::cli

#include "cli/bench_model.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/rss.h"
#include "model/sequence_state.h"
#include "model/synthetic_context.h"

namespace dsv4::cli {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Feeds tokens in chunks; logits of the last position only.
Result<std::vector<float>> feed(const model::Model& m, model::Sequence& seq, std::span<const int32_t> tokens,
                                int chunk) {
  std::vector<float> logits;
  for (size_t p = 0; p < tokens.size(); p += chunk) {
    const size_t n = std::min<size_t>(chunk, tokens.size() - p);
    DSV4_ASSIGN_OR_RETURN(logits, m.forward(seq, tokens.subspan(p, n), p + n == tokens.size() ? 1 : 0));
  }
  return logits;
}

void start_profile(bool on) {
  profile::reset();
  profile::set_enabled(on);
}

std::vector<profile::Entry> stop_profile(bool on) {
  profile::set_enabled(false);
  return on ? profile::snapshot() : std::vector<profile::Entry>{};
}

}  // namespace

std::vector<int32_t> bench_tokens(int64_t n, int64_t vocab, uint64_t salt) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  const uint64_t span = vocab > 2 ? static_cast<uint64_t>(vocab - 2) : 1;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t h = (static_cast<uint64_t>(i) + salt) * 0x9e3779b97f4a7c15ull;
    ids[i] = static_cast<int32_t>(2 + (h >> 17) % span);
  }
  return ids;
}

Result<ModelTiming> time_model(const model::Model& m, const ModelBenchOptions& o) {
  if (o.prompt < 1) return error("--prompt must be >= 1");
  if (o.gen < 1) return error("--gen must be >= 1");
  if (o.chunk < 1) return error("--chunk must be >= 1");
  const int64_t ctx = std::max(o.ctx, o.prompt);
  const int64_t vocab = m.config().vocab_size;
  ModelTiming r;
  model::Sequence seq = m.new_sequence();

  const std::vector<int32_t> prompt = bench_tokens(o.prompt, vocab, 1);
  start_profile(o.profile);
  auto t0 = Clock::now();
  DSV4_ASSIGN_OR_RETURN(std::vector<float> logits, feed(m, seq, prompt, o.chunk));
  r.prefill = {o.prompt, since(t0), stop_profile(o.profile)};

  if (ctx > o.prompt) {  // untimed: grow the context to where decode is measured
    const std::vector<int32_t> filler = bench_tokens(ctx - o.prompt, vocab, 2);
    DSV4_ASSIGN_OR_RETURN(logits, feed(m, seq, filler, o.chunk));
  }
  r.decode_ctx0 = ctx;
  const model::Sequence after_prompt = o.sweep.empty() ? model::Sequence{} : seq;
  const std::vector<float> prompt_logits = o.sweep.empty() ? std::vector<float>{} : logits;
  auto decode = [&](model::Sequence& s, std::vector<float> lg, bool profile) -> Result<PhaseTiming> {
    start_profile(profile);
    const auto d0 = Clock::now();
    for (int64_t i = 0; i < o.gen; ++i) {  // greedy: the next input is the argmax
      const int32_t next = static_cast<int32_t>(std::max_element(lg.begin(), lg.end()) - lg.begin());
      const int32_t tok[1] = {next};
      DSV4_ASSIGN_OR_RETURN(lg, m.forward(s, tok, 1));
    }
    return PhaseTiming{o.gen, since(d0), stop_profile(profile)};
  };
  DSV4_ASSIGN_OR_RETURN(r.decode, decode(seq, logits, o.profile));
  for (int64_t c : o.sweep) {
    if (c < o.prompt) return error("--ctx {} is shorter than --prompt {}", c, o.prompt);
    release_free_heap();  // (the previous length's rows are freed: measure this fill alone)
    const int64_t rss0 = resident_bytes();
    model::Sequence s = after_prompt;  // shares the prompt's rows
    model::fill_synthetic_context(m.config(), s, c, static_cast<uint64_t>(c));
    const int64_t rss1 = resident_bytes();
    const int64_t rows = static_cast<int64_t>(model::state_bytes(s).growing);
    DSV4_ASSIGN_OR_RETURN(PhaseTiming t, decode(s, prompt_logits, o.profile));
    r.sweep.push_back({c, std::move(t), rows, rss1 - rss0});
  }
  return r;
}

Result<int64_t> warm_page_cache(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<char> buf(size_t{64} << 20);
  int64_t total = 0;
  std::error_code ec;
  auto read_all = [&](const fs::path& p) -> Status {
    std::ifstream in(p, std::ios::binary);
    if (!in) return error("{}: cannot open", p.string());
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) total += in.gcount();
    return ok_status();
  };
  if (fs::is_regular_file(dir, ec)) {  // a single file: a .gguf (or one .safetensors)
    DSV4_TRY(read_all(dir));
    return total;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".safetensors") continue;
    DSV4_TRY(read_all(e.path()));
  }
  if (ec) return error("{}: {}", dir, ec.message());
  return total;
}

}  // namespace dsv4::cli

// The model half of `dsv4 bench`: times prefill and decode of one sequence through
// model::Model::forward (the engine's own single-sequence path), with the per-op profile of each
// phase captured separately.
#pragma once
#include <cstdint>
#include <vector>

#include "base/profile.h"
#include "base/status.h"
#include "model/model.h"

namespace dsv4::cli {

struct PhaseTiming {
  int64_t tokens = 0;
  double seconds = 0;
  std::vector<profile::Entry> profile;  // empty unless profiling was on
  double tokens_per_s() const { return seconds > 0 ? tokens / seconds : 0; }
};

struct ModelTiming {
  PhaseTiming prefill, decode;
  int64_t decode_ctx0 = 0;  // context length when decode starts
  // With ModelBenchOptions::sweep: decode from each synthetic context length.
  struct AtCtx {
    int64_t ctx = 0;
    PhaseTiming decode;
    int64_t rows_bytes = 0;    // the sequence's compressed rows + indexer keys (model::state_bytes)
    int64_t rss_growth = 0;    // resident memory the synthetic fill added
  };
  std::vector<AtCtx> sweep;
};

struct ModelBenchOptions {
  int64_t prompt = 64;  // tokens prefilled (timed)
  int64_t gen = 16;     // tokens decoded (timed), greedy
  int64_t ctx = 0;      // context length decode starts from (>= prompt; filled untimed); 0 = prompt
  int chunk = 256;      // prefill chunk
  bool profile = true;
  // Also decode `gen` tokens from each of these context lengths (>= prompt), the rows beyond the
  // prompt filled synthetically (model/synthetic_context.h): decode cost vs context.
  std::vector<int64_t> sweep;
};

// Deterministic token ids in [2, vocab) (never BOS 0 / EOS 1 of the V4 vocabularies).
std::vector<int32_t> bench_tokens(int64_t n, int64_t vocab, uint64_t salt);

Result<ModelTiming> time_model(const model::Model& m, const ModelBenchOptions& o);

// Reads every *.safetensors file of dir once, so the timed runs find the weights in the page cache
// (the shards are mmap'd; a first touch from disk would be measured otherwise). Returns bytes read.
Result<int64_t> warm_page_cache(const std::string& dir);

}  // namespace dsv4::cli

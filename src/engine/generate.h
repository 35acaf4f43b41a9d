// Plain single-sequence generation: prefill the prompt in chunks, then decode token by token,
// sampling each next token; stops at max_new_tokens or an end-of-sequence id.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/sampler.h"
#include "model/model.h"

namespace dsv4::engine {

struct GenerateOptions {
  int max_new_tokens = 16;
  int prefill_chunk = 256;         // tokens per prefill forward call (any size gives the same result)
  std::vector<int32_t> stop_ids;   // generation ends after emitting one of these
  SamplingParams sampling;
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  double prefill_tok_s() const { return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0; }
  double decode_tok_s() const {
    return decode_seconds > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds : 0;
  }
};

// on_token is called for every generated id as soon as it is sampled.
Result<std::vector<int32_t>> generate(const model::Model& m, std::span<const int32_t> prompt,
                                      const GenerateOptions& opt, GenerateStats* stats,
                                      const std::function<void(int32_t)>& on_token = {});

}  // namespace dsv4::engine

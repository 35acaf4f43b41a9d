// Token sampling from one row of logits: greedy at temperature 0, otherwise softmax(logits / T)
// restricted by top-k, top-p (nucleus) and min-p, drawn from a seeded generator so a run with the
// same seed is reproducible. Defaults follow the model card (T = 1, top_p = 1).
#pragma once
#include <cstdint>
#include <random>
#include <span>

#include "base/status.h"

namespace dsv4::engine {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off; keeps tokens with p >= min_p * p_max
  uint64_t seed = 0;
};

Status validate(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}
  int32_t sample(std::span<const float> logits);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

// Index of the largest logit (lowest index on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace dsv4::engine

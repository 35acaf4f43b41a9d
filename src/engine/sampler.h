// Token sampling with OpenAI / DeepSeek semantics. One row of logits becomes a Distribution:
//   1. logit_bias is added; repetition_penalty (HF/vLLM rule: positive logits divided, negative
//      multiplied) applies to every token of the prompt and the output so far; presence and
//      frequency penalties (OpenAI rule: logit -= presence * [count > 0] + frequency * count)
//      apply to the output tokens so far;
//   2. temperature 0 is greedy (argmax, lowest id on ties); otherwise softmax(logits / T),
//      restricted by top_k, then min_p (p >= min_p * p_max), then top_p (smallest prefix of the
//      sorted candidates whose mass reaches top_p), renormalized.
// Logprobs are the log of that final distribution, i.e. of the distribution actually sampled
// from (tokens cut by top-k/p/min-p get -inf). At temperature 0 they are the log-softmax of the
// step-1 logits (as the OpenAI API reports them for greedy requests).
// Draws use the sequence's own seeded generator, so a request with a seed gives the same output
// whatever else runs beside it. Defaults follow the V4 card: temperature 1.0, top_p 1.0.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dsv4::engine {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off
  uint64_t seed = 0;
  float presence_penalty = 0.0f;    // [-2, 2]
  float frequency_penalty = 0.0f;   // [-2, 2]
  float repetition_penalty = 1.0f;  // > 0; 1 = off
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> bias in [-100, 100]
  int top_logprobs = 0;             // alternatives reported per token, [0, 20]
};

Status validate(const SamplingParams& p, int64_t vocab_size = -1);

// Token counts of a sequence so far, for the penalties.
struct TokenHistory {
  std::unordered_map<int32_t, int> output_counts;   // generated tokens
  std::unordered_map<int32_t, int> context_counts;  // prompt + generated (repetition penalty)
  void add_prompt(std::span<const int32_t> ids) {
    for (int32_t t : ids) ++context_counts[t];
  }
  void add_output(int32_t t) {
    ++output_counts[t];
    ++context_counts[t];
  }
};

// The distribution a token is drawn from: the support sorted by decreasing probability (ties:
// lower id first). Greedy distributions have one entry of probability 1.
struct Distribution {
  std::vector<int32_t> ids;
  std::vector<double> probs;
  std::vector<float> processed;  // the step-1 logits over the whole vocabulary
  bool greedy = false;
  double prob(int32_t id) const;
  // log p(id) under the distribution (greedy: log-softmax of `processed`).
  double logprob(int32_t id) const;
  // The n most likely tokens with their logprobs.
  std::vector<std::pair<int32_t, double>> top(int n) const;
};

Distribution make_distribution(std::span<const float> logits, const SamplingParams& p, const TokenHistory* history);

using Rng = std::mt19937_64;
int32_t draw(const Distribution& d, Rng& rng);

// Speculative verification of a draft token drawn from q against the target p (Leviathan et
// al.): accept with probability min(1, p(d) / q(d)), otherwise draw from norm(max(0, p - q)).
// The returned token is distributed exactly as p. Greedy p: accept iff d is p's argmax.
struct Verdict {
  int32_t token = -1;
  bool accepted = false;
};
Verdict verify_draft(const Distribution& p, const Distribution& q, int32_t draft, Rng& rng);

// Index of the largest logit (lowest index on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace dsv4::engine

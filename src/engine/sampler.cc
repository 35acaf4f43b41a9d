#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsv4::engine {

Status validate(const SamplingParams& p, int64_t vocab_size) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature))
    return error("temperature must be a finite number >= 0 (got {})", p.temperature);
  if (p.top_k < 0) return error("top_k must be >= 0 (got {})", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return error("top_p must be in (0, 1] (got {})", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return error("min_p must be in [0, 1] (got {})", p.min_p);
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f))
    return error("presence_penalty must be in [-2, 2] (got {})", p.presence_penalty);
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f))
    return error("frequency_penalty must be in [-2, 2] (got {})", p.frequency_penalty);
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    return error("repetition_penalty must be a finite number > 0 (got {})", p.repetition_penalty);
  if (p.top_logprobs < 0 || p.top_logprobs > 20) return error("top_logprobs must be in [0, 20] (got {})", p.top_logprobs);
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || (vocab_size >= 0 && id >= vocab_size))
      return error("logit_bias names token id {} outside the vocabulary [0, {})", id, vocab_size);
    if (!(bias >= -100.0f && bias <= 100.0f)) return error("logit_bias for token {} must be in [-100, 100]", id);
  }
  return ok_status();
}

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

double Distribution::prob(int32_t id) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == id) return probs[i];
  return 0.0;
}

namespace {

double log_softmax_at(const std::vector<float>& x, int32_t id) {
  const float mx = *std::max_element(x.begin(), x.end());
  double sum = 0.0;
  for (float v : x) sum += std::exp(static_cast<double>(v) - mx);
  return static_cast<double>(x[id]) - mx - std::log(sum);
}

}  // namespace

double Distribution::logprob(int32_t id) const {
  if (greedy) return log_softmax_at(processed, id);
  const double p = prob(id);
  return p > 0 ? std::log(p) : -std::numeric_limits<double>::infinity();
}

std::vector<std::pair<int32_t, double>> Distribution::top(int n) const {
  std::vector<std::pair<int32_t, double>> r;
  if (n <= 0) return r;
  if (greedy) {
    std::vector<int32_t> idx(processed.size());
    std::iota(idx.begin(), idx.end(), 0);
    const size_t k = std::min<size_t>(n, idx.size());
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
      return processed[a] != processed[b] ? processed[a] > processed[b] : a < b;
    });
    for (size_t i = 0; i < k; ++i) r.push_back({idx[i], log_softmax_at(processed, idx[i])});
    return r;
  }
  for (size_t i = 0; i < ids.size() && static_cast<int>(i) < n; ++i) r.push_back({ids[i], std::log(probs[i])});
  return r;
}

Distribution make_distribution(std::span<const float> logits, const SamplingParams& p, const TokenHistory* history) {
  Distribution d;
  d.processed.assign(logits.begin(), logits.end());
  std::vector<float>& x = d.processed;
  const int64_t V = static_cast<int64_t>(x.size());
  for (const auto& [id, bias] : p.logit_bias)
    if (id >= 0 && id < V) x[id] += bias;
  if (history) {
    if (p.repetition_penalty != 1.0f)
      for (const auto& [id, n] : history->context_counts)
        if (id >= 0 && id < V) x[id] = x[id] > 0 ? x[id] / p.repetition_penalty : x[id] * p.repetition_penalty;
    if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f)
      for (const auto& [id, n] : history->output_counts)
        if (id >= 0 && id < V) x[id] -= p.presence_penalty + p.frequency_penalty * static_cast<float>(n);
  }
  if (p.temperature == 0.0f || V == 1) {
    d.greedy = true;
    d.ids = {argmax(x)};
    d.probs = {1.0};
    return d;
  }
  // Candidates by decreasing logit (lower id first on ties); top-k bounds the sort.
  std::vector<int32_t> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  auto before = [&](int32_t a, int32_t b) { return x[a] != x[b] ? x[a] > x[b] : a < b; };
  size_t keep = static_cast<size_t>(V);
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < keep) {
    keep = static_cast<size_t>(p.top_k);
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), before);
  } else {
    std::sort(idx.begin(), idx.end(), before);
  }
  const double mx = x[idx[0]];
  std::vector<double> prob(keep);
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) sum += (prob[i] = std::exp((x[idx[i]] - mx) / p.temperature));
  for (auto& q : prob) q /= sum;
  if (p.min_p > 0.0f) {
    size_t k = 1;
    while (k < keep && prob[k] >= p.min_p * prob[0]) ++k;
    keep = k;
  }
  if (p.top_p < 1.0f) {
    double cum = 0.0;
    size_t k = 0;
    while (k < keep) {
      cum += prob[k++];
      if (cum >= p.top_p) break;
    }
    keep = std::max<size_t>(k, 1);
  }
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) total += prob[i];
  d.ids.assign(idx.begin(), idx.begin() + keep);
  d.probs.resize(keep);
  for (size_t i = 0; i < keep; ++i) d.probs[i] = prob[i] / total;
  return d;
}

int32_t draw(const Distribution& d, Rng& rng) {
  if (d.ids.size() == 1) return d.ids[0];
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double r = u(rng);
  for (size_t i = 0; i < d.ids.size(); ++i) {
    r -= d.probs[i];
    if (r < 0.0) return d.ids[i];
  }
  return d.ids.back();
}

Verdict verify_draft(const Distribution& p, const Distribution& q, int32_t draft, Rng& rng) {
  if (p.greedy) return {p.ids[0], draft == p.ids[0]};
  const double pd = p.prob(draft), qd = q.prob(draft);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (qd <= 0.0 || u(rng) * qd < pd) {
    if (qd > 0.0) return {draft, true};
  }
  // Residual max(0, p - q) over p's support (outside it the residual is 0).
  std::vector<double> qdense(p.processed.size(), 0.0);
  for (size_t i = 0; i < q.ids.size(); ++i)
    if (q.ids[i] >= 0 && static_cast<size_t>(q.ids[i]) < qdense.size()) qdense[q.ids[i]] = q.probs[i];
  Distribution r;
  double z = 0.0;
  for (size_t i = 0; i < p.ids.size(); ++i) {
    const double v = std::max(0.0, p.probs[i] - qdense[p.ids[i]]);
    if (v > 0.0) {
      r.ids.push_back(p.ids[i]);
      r.probs.push_back(v);
      z += v;
    }
  }
  if (z <= 0.0) return {draw(p, rng), false};
  for (auto& v : r.probs) v /= z;
  return {draw(r, rng), false};
}

}  // namespace dsv4::engine

#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/check.h"
#include "base/profile.h"
#include "kernels/linear.h"
#include "model/block.h"
#include "model/linear_dispatch.h"

namespace dsv4::model {
namespace {

float score_fn(const std::string& func, float x) {
  if (func == "sigmoid") return 1.0f / (1.0f + std::exp(-x));
  const float sp = x > 20.0f ? x : std::log1p(std::exp(x));  // torch softplus, threshold 20
  return std::sqrt(sp);
}

// One expert on m rows: w2(bf16(g * silu(clamp(w1 x)) * clamp(w3 x))) with rows scaled by g.
void expert_forward(const ModelConfig& c, const ExpertWeights& e, const float* x, int64_t m, const float* g,
                    float* out) {
  const int64_t F = e.w1.rows;
  std::vector<float> gate(m * F), up(m * F);
  linear_forward(e.w1, x, m, gate.data());
  linear_forward(e.w3, x, m, up.data());
  const float lim = static_cast<float>(c.swiglu_limit);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < F; ++j) {
      float gv = gate[r * F + j], uv = up[r * F + j];
      if (lim > 0) {
        uv = std::clamp(uv, -lim, lim);
        gv = std::min(gv, lim);
      }
      float h = gv / (1.0f + std::exp(-gv)) * uv;
      if (g) h = g[r] * h;
      gate[r * F + j] = round_bf16(h);
    }
  linear_forward(e.w2, gate.data(), m, out);
}

}  // namespace

void expert_rows_forward(const ModelConfig& c, const LayerWeights& w, int64_t e, const float* x, int64_t m,
                         const float* g, float* out) {
  DSV4_CHECK(e >= 0 && e < static_cast<int64_t>(w.experts.size()) &&
             w.experts[e].w1.kind != LinearWeight::Kind::kNone);
  expert_forward(c, w.experts[e], x, m, g, out);
}

Routing route_token(const ModelConfig& c, const LayerWeights& w, const float* f, int64_t token_id) {
  const int64_t E = c.n_routed_experts, d = c.hidden_size;
  const int k = c.num_experts_per_tok;
  std::vector<float> logits(E), scores(E);
  kernels::linear_bf16(f, 1, w.gate, E, d, logits.data(), false);
  if (c.scoring_func == "softmax") {
    const float mx = *std::max_element(logits.begin(), logits.end());
    float sum = 0.0f;
    for (int64_t e = 0; e < E; ++e) sum += (scores[e] = std::exp(logits[e] - mx));
    for (auto& s : scores) s /= sum;
  } else {
    for (int64_t e = 0; e < E; ++e) scores[e] = score_fn(c.scoring_func, logits[e]);
  }
  Routing r;
  if (w.tid2eid) {
    for (int i = 0; i < k; ++i) r.experts.push_back(static_cast<int32_t>(w.tid2eid[token_id * k + i]));
  } else {
    std::vector<float> biased(scores);
    if (w.gate_bias)
      for (int64_t e = 0; e < E; ++e) biased[e] += w.gate_bias[e];
    std::vector<int32_t> idx(E);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
      return biased[a] != biased[b] ? biased[a] > biased[b] : a < b;
    });
    r.experts.assign(idx.begin(), idx.begin() + k);
  }
  float sum = 0.0f;
  for (int32_t e : r.experts) sum += scores[e];
  for (int32_t e : r.experts) {
    float g = scores[e];
    if (c.scoring_func != "softmax") g /= sum;
    r.weights.push_back(g * static_cast<float>(c.routed_scaling_factor));
  }
  return r;
}

void moe_forward(const ModelConfig& c, const LayerWeights& w, const float* f, const int32_t* tokens, int64_t n,
                 float* y, LayerTrace* trace) {
  DSV4_PROFILE_SCOPE("moe");
  const int64_t d = c.hidden_size, E = c.n_routed_experts;
  std::vector<Routing> routes(n);
  std::vector<std::vector<std::pair<int64_t, float>>> by_expert(E);  // (row, weight)
  {
    DSV4_PROFILE_SCOPE("moe.routing");
    for (int64_t t = 0; t < n; ++t) {
      routes[t] = route_token(c, w, &f[t * d], tokens[t]);
      for (size_t i = 0; i < routes[t].experts.size(); ++i) {
        const int32_t e = routes[t].experts[i];
        if (e >= 0 && e < E) by_expert[e].push_back({t, routes[t].weights[i]});
      }
      if (trace) {
        trace->route_experts.insert(trace->route_experts.end(), routes[t].experts.begin(), routes[t].experts.end());
        trace->route_weights.insert(trace->route_weights.end(), routes[t].weights.begin(), routes[t].weights.end());
      }
    }
  }
  // Experts other processes own start first (placement.h) and run while the local ones do; the
  // combination below is in increasing expert id either way, so the layout never shows.
  std::vector<ExpertRows> remote;
  if (w.expert_link) {
    for (int64_t e = 0; e < E; ++e)
      if (!by_expert[e].empty() && w.experts[e].w1.kind == LinearWeight::Kind::kNone) {
        ExpertRows j;
        j.expert = static_cast<int32_t>(e);
        for (const auto& [row, g] : by_expert[e]) {
          j.rows.push_back(row);
          j.g.push_back(g);
        }
        remote.push_back(std::move(j));
      }
    if (!remote.empty()) w.expert_link->begin(w.spec.index, f, d, remote);
  }
  std::vector<std::vector<float>> outs(E);
  {
    DSV4_PROFILE_SCOPE("moe.routed_experts");
    for (int64_t e = 0; e < E; ++e) {  // increasing expert id, as the reference loops
      const auto& rows = by_expert[e];
      if (rows.empty() || w.experts[e].w1.kind == LinearWeight::Kind::kNone) continue;
      const int64_t m = static_cast<int64_t>(rows.size());
      std::vector<float> x(m * d), g(m);
      for (int64_t r = 0; r < m; ++r) {
        std::copy(&f[rows[r].first * d], &f[rows[r].first * d] + d, &x[r * d]);
        g[r] = rows[r].second;
      }
      outs[e].resize(m * d);
      expert_forward(c, w.experts[e], x.data(), m, g.data(), outs[e].data());
    }
  }
  if (!remote.empty()) {
    DSV4_PROFILE_SCOPE("moe.remote_experts");
    std::vector<std::vector<float>> got;
    w.expert_link->finish(remote, &got);
    for (size_t i = 0; i < remote.size(); ++i) outs[remote[i].expert] = std::move(got[i]);
  }
  std::vector<float> acc(n * d, 0.0f);
  for (int64_t e = 0; e < E; ++e) {
    const auto& rows = by_expert[e];
    DSV4_CHECK(outs[e].size() == rows.size() * static_cast<size_t>(d));
    for (size_t r = 0; r < rows.size(); ++r)
      for (int64_t i = 0; i < d; ++i) acc[rows[r].first * d + i] += outs[e][r * d + i];
  }
  std::vector<float> shared(n * d);
  {
    DSV4_PROFILE_SCOPE("moe.shared_expert");
    expert_forward(c, w.shared, f, n, nullptr, shared.data());
  }
  for (int64_t i = 0; i < n * d; ++i) y[i] = round_bf16(acc[i] + shared[i]);
}

}  // namespace dsv4::model

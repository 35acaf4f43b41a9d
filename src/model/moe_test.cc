// MoE against spec §2.12 written out in double: router logits, s = sqrt(softplus(logit)) (softplus
// returns x above 20), top-k on s + bias (bias for selection only) or the tid2eid row on hash
// layers, g = s / sum(s) * route_scale; experts h = bf16(g * silu(min(gate, L)) * clamp(up, -L, L))
// with the gate clamped from above only, the shared expert with the same clamp and no weight,
// y = bf16(sum of expert outputs + shared). The projections themselves go through the linear
// kernels (tested against their own plain formulation in kernels/linear_test.cc).
#include "model/moe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "model/linear_dispatch.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/test_values.h"

namespace dsv4::model {
namespace {

using test_values::to_bf16;
using test_values::bf16_ulp;

std::vector<float> random_bf16_values(int64_t n, float mean, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = round_bf16(dist(rng));
  return v;
}

// Owns the bytes behind the LinearWeights of a hand-built layer.
struct Arena {
  std::vector<std::unique_ptr<std::vector<uint8_t>>> bytes;
  uint8_t* alloc(size_t n) {
    bytes.push_back(std::make_unique<std::vector<uint8_t>>(n));
    return bytes.back()->data();
  }
};

// FP4 weight [n, k]: random e2m1 codes (or all `fixed_code`), scales 2^-1 .. 2^0.
LinearWeight fp4_weight(Arena& a, int64_t n, int64_t k, uint32_t seed, int fixed_code = -1) {
  uint8_t* packed = a.alloc(n * k / 2);
  uint8_t* scales = a.alloc(n * k / 32);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> nib(0, 15), ex(126, 127);
  for (int64_t i = 0; i < n * k / 2; ++i) {
    const int lo = fixed_code >= 0 ? fixed_code : nib(rng), hi = fixed_code >= 0 ? fixed_code : nib(rng);
    packed[i] = fp4_pack(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi));
  }
  for (int64_t i = 0; i < n * k / 32; ++i) scales[i] = fixed_code >= 0 ? 127 : static_cast<uint8_t>(ex(rng));
  LinearWeight w;
  w.kind = LinearWeight::Kind::kFp4;
  w.fp4 = {packed, scales, n, k};
  w.rows = n;
  w.cols = k;
  return w;
}

// FP8 weight [n, k]: N(0, sigma) values cast to e4m3 with block scale 2^0.
LinearWeight fp8_weight(Arena& a, int64_t n, int64_t k, float sigma, uint32_t seed) {
  uint8_t* codes = a.alloc(n * k);
  const int64_t nb = ((n + 127) / 128) * ((k + 127) / 128);
  uint8_t* scales = a.alloc(nb);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  for (int64_t i = 0; i < n * k; ++i) codes[i] = f32_to_fp8_e4m3(dist(rng));
  std::fill(scales, scales + nb, uint8_t{127});
  LinearWeight w;
  w.kind = LinearWeight::Kind::kFp8;
  w.fp8 = {codes, scales, n, k};
  w.rows = n;
  w.cols = k;
  return w;
}

struct MoeLayer {
  ModelConfig c;
  LayerWeights w;
  Arena arena;
  std::vector<bf16> gate;
  std::vector<float> gate_f, bias;
  std::vector<int64_t> tid2eid;
};

// E = 7 experts, k = 3, d = 64, F = 96, limit 10, route scale 1.5; weights sized so that gate and
// up projections go well past the clamp.
std::unique_ptr<MoeLayer> make_layer(bool hash, uint32_t seed) {
  auto L = std::make_unique<MoeLayer>();
  ModelConfig& c = L->c;
  c.hidden_size = 64;
  c.n_routed_experts = 7;
  c.num_experts_per_tok = 3;
  c.moe_intermediate_size = 96;
  c.vocab_size = 11;
  c.swiglu_limit = 10.0;
  c.routed_scaling_factor = 1.5;
  c.scoring_func = "sqrtsoftplus";
  const int64_t d = c.hidden_size, E = c.n_routed_experts, F = c.moe_intermediate_size;
  L->gate_f = random_bf16_values(E * d, 0.0f, 0.3f, seed);
  L->gate.resize(E * d);
  for (int64_t i = 0; i < E * d; ++i) L->gate[i] = f32_to_bf16(L->gate_f[i]);
  L->w.gate = L->gate.data();
  if (hash) {
    std::mt19937 rng(seed + 1);
    L->tid2eid.resize(c.vocab_size * c.num_experts_per_tok);
    for (int64_t t = 0; t < c.vocab_size; ++t) {  // distinct experts per token, unsorted
      std::vector<int64_t> perm(E);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      std::copy(perm.begin(), perm.begin() + c.num_experts_per_tok, &L->tid2eid[t * c.num_experts_per_tok]);
    }
    L->w.tid2eid = L->tid2eid.data();
  } else {
    L->bias = random_bf16_values(E, 0.0f, 0.05f, seed + 2);
    L->w.gate_bias = L->bias.data();
  }
  L->w.experts.resize(E);
  for (int64_t e = 0; e < E; ++e)
    L->w.experts[e] = {fp4_weight(L->arena, F, d, seed + 10 + 3 * e), fp4_weight(L->arena, d, F, seed + 11 + 3 * e),
                       fp4_weight(L->arena, F, d, seed + 12 + 3 * e)};
  L->w.shared = {fp8_weight(L->arena, F, d, 2.0f, seed + 5), fp8_weight(L->arena, d, F, 0.1f, seed + 6),
                 fp8_weight(L->arena, F, d, 2.0f, seed + 7)};
  return L;
}

// ---- router ----------------------------------------------------------------------------------

double sqrt_softplus(double x) { return std::sqrt(x > 20.0 ? x : std::log1p(std::exp(x))); }

std::vector<double> router_scores(const MoeLayer& L, const std::vector<float>& f) {
  const int64_t d = L.c.hidden_size, E = L.c.n_routed_experts;
  std::vector<double> s(E);
  for (int64_t e = 0; e < E; ++e) {
    double logit = 0.0;
    for (int64_t i = 0; i < d; ++i) logit += static_cast<double>(L.gate_f[e * d + i]) * f[i];
    s[e] = sqrt_softplus(logit);
  }
  return s;
}

struct RefRoute {
  std::vector<int32_t> experts;
  std::vector<double> weights;
  double margin = INFINITY;  // gap between the k-th and (k+1)-th biased score
};

RefRoute reference_route(const MoeLayer& L, const std::vector<float>& f, int64_t token) {
  const int64_t E = L.c.n_routed_experts;
  const int k = L.c.num_experts_per_tok;
  const std::vector<double> s = router_scores(L, f);
  RefRoute r;
  if (!L.tid2eid.empty()) {
    for (int i = 0; i < k; ++i) r.experts.push_back(static_cast<int32_t>(L.tid2eid[token * k + i]));
  } else {
    std::vector<double> biased(E);
    for (int64_t e = 0; e < E; ++e) biased[e] = s[e] + L.bias[e];
    std::vector<int32_t> idx(E);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return biased[a] > biased[b]; });
    r.experts.assign(idx.begin(), idx.begin() + k);
    r.margin = biased[idx[k - 1]] - biased[idx[k]];
  }
  double sum = 0.0;
  for (int32_t e : r.experts) sum += s[e];
  for (int32_t e : r.experts) r.weights.push_back(s[e] / sum * L.c.routed_scaling_factor);
  return r;
}

void expect_route(const Routing& got, const RefRoute& want) {
  ASSERT_EQ(got.experts, want.experts);
  ASSERT_EQ(got.weights.size(), want.weights.size());
  double total = 0.0;
  for (size_t i = 0; i < want.weights.size(); ++i) {
    EXPECT_NEAR(got.weights[i], want.weights[i], 1e-5 * want.weights[i]) << i;
    total += got.weights[i];
  }
  EXPECT_NEAR(total, 1.5, 1e-5);  // normalised, times the route scale
}

TEST(MoeRoute, BiasedTopkMatchesSpec) {
  auto L = make_layer(false, 1);
  for (uint32_t t = 0; t < 20; ++t) {
    const std::vector<float> f = random_bf16_values(64, 0.0f, 1.0f, 100 + t);
    const RefRoute want = reference_route(*L, f, 0);
    if (want.margin < 1e-4) continue;  // too close to call for an fp32 router
    expect_route(route_token(L->c, L->w, f.data(), 0), want);
  }
}

TEST(MoeRoute, BiasSelectsButDoesNotWeigh) {
  auto L = make_layer(false, 2);
  const std::vector<float> f = random_bf16_values(64, 0.0f, 1.0f, 7);
  const std::vector<double> s = router_scores(*L, f);
  // Push the three lowest-scoring experts to the top with a large bias.
  std::vector<int32_t> order(7);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return s[a] < s[b]; });
  std::fill(L->bias.begin(), L->bias.end(), 0.0f);
  L->bias[order[0]] = 30.0f;
  L->bias[order[1]] = 20.0f;
  L->bias[order[2]] = 10.0f;
  const Routing r = route_token(L->c, L->w, f.data(), 0);
  ASSERT_EQ(r.experts, (std::vector<int32_t>{order[0], order[1], order[2]}));
  const double sum = s[order[0]] + s[order[1]] + s[order[2]];
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(r.weights[i], s[order[i]] / sum * 1.5, 1e-5) << i;
  expect_route(r, reference_route(*L, f, 0));
}

TEST(MoeRoute, HashLayerUsesTid2eidRowOfTheToken) {
  auto L = make_layer(true, 3);
  const std::vector<float> f = random_bf16_values(64, 0.0f, 1.0f, 8);
  for (int64_t tok = 0; tok < L->c.vocab_size; ++tok) {
    const Routing r = route_token(L->c, L->w, f.data(), tok);
    expect_route(r, reference_route(*L, f, tok));
  }
}

TEST(MoeRoute, LargeLogitsStayFinite) {
  // softplus(x) = x above 20: a logit of ~100 must give s = sqrt(100), not exp overflow.
  auto L = make_layer(false, 4);
  std::vector<float> f(64, 1.0f);
  for (int64_t i = 0; i < 64; ++i) {
    L->gate_f[i] = 100.0f / 64;  // expert 0: logit 100 (100/64 is exact in bf16)
    L->gate[i] = f32_to_bf16(L->gate_f[i]);
  }
  const Routing r = route_token(L->c, L->w, f.data(), 0);
  ASSERT_EQ(r.experts.size(), 3u);
  EXPECT_EQ(r.experts[0], 0);
  const RefRoute want = reference_route(*L, f, 0);
  expect_route(r, want);
  for (float g : r.weights) EXPECT_TRUE(std::isfinite(g));
}

// ---- experts and combination -----------------------------------------------------------------

// bf16(g * silu(min(gate, L)) * clamp(up, -L, L)) per element; `lower_gate_clamp` is the wrong
// (symmetric) variant, used only to show the test can tell them apart.
std::vector<float> expert_reference(const ModelConfig& c, const ExpertWeights& e, const std::vector<float>& f,
                                    double g, bool lower_gate_clamp = false, bool clamp = true) {
  const int64_t F = e.w1.rows, d = c.hidden_size;
  std::vector<float> gate(F), up(F), h(F), out(d);
  linear_forward(e.w1, f.data(), 1, gate.data());
  linear_forward(e.w3, f.data(), 1, up.data());
  const double lim = c.swiglu_limit;
  for (int64_t j = 0; j < F; ++j) {
    double gv = gate[j], uv = up[j];
    if (clamp) {
      gv = std::min(gv, lim);
      if (lower_gate_clamp) gv = std::max(gv, -lim);
      uv = std::clamp(uv, -lim, lim);
    }
    h[j] = to_bf16(g * (gv / (1.0 + std::exp(-gv))) * uv);
  }
  linear_forward(e.w2, h.data(), 1, out.data());
  return out;
}

std::vector<double> moe_reference(const MoeLayer& L, const std::vector<float>& f, int64_t token,
                                  bool lower_gate_clamp = false, bool clamp = true) {
  const int64_t d = L.c.hidden_size;
  const RefRoute r = reference_route(L, f, token);
  std::vector<double> y(d, 0.0);
  for (size_t i = 0; i < r.experts.size(); ++i) {
    const std::vector<float> o = expert_reference(L.c, L.w.experts[r.experts[i]], f, r.weights[i], lower_gate_clamp, clamp);
    for (int64_t k = 0; k < d; ++k) y[k] += o[k];
  }
  const std::vector<float> sh = expert_reference(L.c, L.w.shared, f, 1.0, lower_gate_clamp, clamp);
  for (int64_t k = 0; k < d; ++k) y[k] += sh[k];
  return y;
}

void check_moe_forward(bool hash, uint32_t seed) {
  auto L = make_layer(hash, seed);
  const int64_t n = 5, d = 64;
  std::vector<float> f;
  std::vector<int32_t> tokens;
  for (int64_t t = 0; t < n; ++t) {
    const std::vector<float> row = random_bf16_values(d, 0.0f, 1.0f, seed * 100 + t);
    f.insert(f.end(), row.begin(), row.end());
    tokens.push_back(static_cast<int32_t>((t * 5 + 3) % L->c.vocab_size));
  }
  std::vector<float> y(n * d);
  moe_forward(L->c, L->w, f.data(), tokens.data(), n, y.data(), nullptr);
  double far_from_unclamped = 0.0;
  for (int64_t t = 0; t < n; ++t) {
    const std::vector<float> ft(&f[t * d], &f[(t + 1) * d]);
    const RefRoute r = reference_route(*L, ft, tokens[t]);
    ASSERT_TRUE(hash || r.margin > 1e-4) << "test data too close to a routing tie";
    const std::vector<double> ref = moe_reference(*L, ft, tokens[t]);
    const std::vector<double> unclamped = moe_reference(*L, ft, tokens[t], false, false);
    for (int64_t k = 0; k < d; ++k) {
      const float got = y[t * d + k];
      ASSERT_EQ(got, round_bf16(got));
      ASSERT_LE(std::fabs(got - ref[k]), bf16_ulp(ref[k])) << "token " << t << " dim " << k;
      far_from_unclamped = std::max(far_from_unclamped, std::fabs(got - unclamped[k]) / (std::fabs(unclamped[k]) + 1));
    }
  }
  EXPECT_GT(far_from_unclamped, 0.1);  // the data really drives projections past the limit
}

TEST(MoeForward, BiasedLayerMatchesSpec) { check_moe_forward(false, 5); }
TEST(MoeForward, HashLayerMatchesSpec) { check_moe_forward(true, 6); }

TEST(MoeForward, GateIsClampedFromAboveOnly) {
  // Every gate projection is -64 (f = 1, w1 = -1): silu(-64) ~ -1e-26, so h ~ 0 and only the shared
  // expert's output remains. A symmetric clamp would give silu(-10) * up = -4.5e-4 * up instead.
  auto L = make_layer(false, 9);
  const int64_t d = 64, F = 96;
  const int neg_one = 0xA;  // e2m1: sign bit 3, magnitude code 2 = 1.0
  for (auto& e : L->w.experts) e.w1 = fp4_weight(L->arena, F, d, 0, neg_one);
  const std::vector<float> f(d, 1.0f);
  std::vector<float> y(d);
  const int32_t token = 0;
  moe_forward(L->c, L->w, f.data(), &token, 1, y.data(), nullptr);
  const std::vector<double> ref = moe_reference(*L, f, 0);
  const std::vector<double> symmetric = moe_reference(*L, f, 0, true);
  const std::vector<float> shared = expert_reference(L->c, L->w.shared, f, 1.0);
  double diff_sym = 0.0;
  for (int64_t k = 0; k < d; ++k) {
    ASSERT_LE(std::fabs(y[k] - ref[k]), bf16_ulp(ref[k])) << k;
    EXPECT_EQ(y[k], shared[k]) << k;  // routed experts contribute (numerically) nothing
    diff_sym = std::max(diff_sym, std::fabs(y[k] - symmetric[k]));
  }
  EXPECT_GT(diff_sym, 1e-3);
}

}  // namespace
}  // namespace dsv4::model

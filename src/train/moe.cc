#include "train/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "train/gemm.h"
#include "train/ops.h"

namespace dsv4::train {
namespace {

// SwiGLU with V4's clamp: gate <= L, |up| <= L (L = swiglu_limit, 0 = none). h = silu(gate) * up.
template <typename T>
T swiglu(T gate, T up, T lim) {
  if (lim > 0) {
    gate = std::min(gate, lim);
    up = std::clamp(up, -lim, lim);
  }
  return gate * sigmoid(gate) * up;
}
// dh -> dgate, dup (zero where the clamp is active).
template <typename T>
void swiglu_bwd(T gate, T up, T lim, T dh, T* dgate, T* dup) {
  const bool gate_clamped = lim > 0 && gate > lim, up_clamped = lim > 0 && (up > lim || up < -lim);
  const T g = lim > 0 ? std::min(gate, lim) : gate;
  const T u = lim > 0 ? std::clamp(up, -lim, lim) : up;
  const T sg = sigmoid(g);
  *dgate = gate_clamped ? T(0) : dh * u * sg * (T(1) + g * (T(1) - sg));
  *dup = up_clamped ? T(0) : dh * g * sg;
}

// One SwiGLU expert over rows x [r, d] (row i scaled by w[i] before w2; w null = 1): y += out.
template <typename T>
void expert_fwd(const ModelConfig& c, const ExpertParams<T>& e, const T* x, int64_t r, const T* w, std::vector<T>& g1,
                std::vector<T>& g3, T* y) {
  const int64_t d = c.hidden_size, F = c.moe_intermediate_size;
  const T lim = static_cast<T>(c.swiglu_limit);
  g1.assign(r * F, T(0));
  g3.assign(r * F, T(0));
  linear_fwd(x, e.w1.v, r, d, F, g1.data());
  linear_fwd(x, e.w3.v, r, d, F, g3.data());
  std::vector<T> h(r * F);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < F; ++j) h[i * F + j] = swiglu(g1[i * F + j], g3[i * F + j], lim) * (w ? w[i] : T(1));
  linear_fwd(h.data(), e.w2.v, r, F, d, y);
}

// dy [r, d] -> dx [r, d] +=, dw [r] (if w), parameter gradients.
template <typename T>
void expert_bwd(const ModelConfig& c, const ExpertParams<T>& e, const T* x, int64_t r, const T* w,
                const std::vector<T>& g1, const std::vector<T>& g3, const T* dy, T* dx, T* dw) {
  const int64_t d = c.hidden_size, F = c.moe_intermediate_size;
  const T lim = static_cast<T>(c.swiglu_limit);
  std::vector<T> h(r * F), dh(r * F, T(0)), dg1(r * F), dg3(r * F);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < F; ++j) h[i * F + j] = swiglu(g1[i * F + j], g3[i * F + j], lim) * (w ? w[i] : T(1));
  linear_bwd(dy, h.data(), e.w2.v, r, F, d, dh.data(), e.w2.g);
  for (int64_t i = 0; i < r; ++i) {
    const T wi = w ? w[i] : T(1);
    T dwi = 0;
    for (int64_t j = 0; j < F; ++j) {
      const T hu = swiglu(g1[i * F + j], g3[i * F + j], lim);
      dwi += dh[i * F + j] * hu;
      swiglu_bwd(g1[i * F + j], g3[i * F + j], lim, dh[i * F + j] * wi, &dg1[i * F + j], &dg3[i * F + j]);
    }
    if (dw) dw[i] = dwi;
  }
  linear_bwd(dg1.data(), x, e.w1.v, r, d, F, dx, e.w1.g);
  linear_bwd(dg3.data(), x, e.w3.v, r, d, F, dx, e.w3.g);
}

}  // namespace

template <typename T>
void moe_fwd(const ModelConfig& c, const BlockParams<T>& p, const T* f, const int32_t* tokens, int64_t n, T* y,
             MoeCache<T>& cache) {
  const int E = c.n_routed_experts, k = c.num_experts_per_tok;
  const int64_t d = c.hidden_size;
  cache.logits.assign(n * E, T(0));
  cache.score.assign(n * E, T(0));
  linear_fwd(f, p.gate.v, n, d, E, cache.logits.data());
  for (int64_t i = 0; i < n * E; ++i) cache.score[i] = std::sqrt(softplus(cache.logits[i]));
  cache.sel.assign(n * k, 0);
  cache.weight.assign(n * k, T(0));
  cache.rows.assign(E, {});
  cache.load.assign(E, 0);
  std::vector<int32_t> order(E);
  for (int64_t t = 0; t < n; ++t) {
    const T* sc = &cache.score[t * E];
    if (p.tid2eid) {
      for (int j = 0; j < k; ++j) cache.sel[t * k + j] = p.tid2eid[static_cast<int64_t>(tokens[t]) * k + j];
    } else {
      std::iota(order.begin(), order.end(), 0);
      const T* bias = p.gate_bias.v;
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t z) {
        const T vx = sc[x] + bias[x], vz = sc[z] + bias[z];
        return vx > vz || (vx == vz && x < z);
      });
      for (int j = 0; j < k; ++j) cache.sel[t * k + j] = order[j];
    }
    T sum = 0;
    for (int j = 0; j < k; ++j) sum += sc[cache.sel[t * k + j]];
    for (int j = 0; j < k; ++j) {
      const int e = cache.sel[t * k + j];
      cache.weight[t * k + j] = sc[e] / sum * static_cast<T>(c.routed_scaling_factor);
      cache.rows[e].push_back(t * k + j);
      ++cache.load[e];
    }
  }
  std::fill(y, y + n * d, T(0));
  cache.g1.assign(E, {});
  cache.g3.assign(E, {});
  std::vector<T> x, w, out;
  for (int e = 0; e < E; ++e) {
    const int64_t r = static_cast<int64_t>(cache.rows[e].size());
    if (r == 0) continue;
    x.resize(r * d);
    w.resize(r);
    out.assign(r * d, T(0));
    for (int64_t i = 0; i < r; ++i) {
      std::copy_n(f + (cache.rows[e][i] / k) * d, d, &x[i * d]);
      w[i] = cache.weight[cache.rows[e][i]];
    }
    expert_fwd(c, p.experts[e], x.data(), r, w.data(), cache.g1[e], cache.g3[e], out.data());
    for (int64_t i = 0; i < r; ++i) {
      T* yt = y + (cache.rows[e][i] / k) * d;
      for (int64_t j = 0; j < d; ++j) yt[j] += out[i * d + j];
    }
  }
  out.assign(n * d, T(0));
  expert_fwd(c, p.shared, f, n, static_cast<const T*>(nullptr), cache.sg1, cache.sg3, out.data());
  for (int64_t i = 0; i < n * d; ++i) y[i] += out[i];
}

template <typename T>
void moe_bwd(const ModelConfig& c, const BlockParams<T>& p, const T* f, int64_t n, const MoeCache<T>& cache,
             const T* dy, T* df) {
  const int E = c.n_routed_experts, k = c.num_experts_per_tok;
  const int64_t d = c.hidden_size;
  expert_bwd(c, p.shared, f, n, static_cast<const T*>(nullptr), cache.sg1, cache.sg3, dy, df, static_cast<T*>(nullptr));
  std::vector<T> dweight(n * k, T(0)), x, w, dyr, dx, dw;
  for (int e = 0; e < E; ++e) {
    const int64_t r = static_cast<int64_t>(cache.rows[e].size());
    if (r == 0) continue;
    x.resize(r * d);
    w.resize(r);
    dyr.resize(r * d);
    dx.assign(r * d, T(0));
    dw.assign(r, T(0));
    for (int64_t i = 0; i < r; ++i) {
      const int64_t t = cache.rows[e][i] / k;
      std::copy_n(f + t * d, d, &x[i * d]);
      std::copy_n(dy + t * d, d, &dyr[i * d]);
      w[i] = cache.weight[cache.rows[e][i]];
    }
    expert_bwd(c, p.experts[e], x.data(), r, w.data(), cache.g1[e], cache.g3[e], dyr.data(), dx.data(), dw.data());
    for (int64_t i = 0; i < r; ++i) {
      const int64_t t = cache.rows[e][i] / k;
      for (int64_t j = 0; j < d; ++j) df[t * d + j] += dx[i * d + j];
      dweight[cache.rows[e][i]] = dw[i];
    }
  }
  // weight_j = rs * s_j / sum_i s_i over the selected: ds_j = rs (dw_j - sum_i dw_i w_i / rs) / sum.
  const T rs = static_cast<T>(c.routed_scaling_factor);
  std::vector<T> dlogits(n * E, T(0));
  for (int64_t t = 0; t < n; ++t) {
    T sum = 0, dot = 0;
    for (int j = 0; j < k; ++j) {
      sum += cache.score[t * E + cache.sel[t * k + j]];
      dot += dweight[t * k + j] * cache.weight[t * k + j] / rs;
    }
    for (int j = 0; j < k; ++j) {
      const int e = cache.sel[t * k + j];
      const T ds = rs * (dweight[t * k + j] - dot) / sum;
      dlogits[t * E + e] += ds * sqrt_softplus_grad(cache.logits[t * E + e], cache.score[t * E + e]);
    }
  }
  linear_bwd(dlogits.data(), f, p.gate.v, n, d, E, df, p.gate.g);
}

template <typename T>
void update_route_bias(const BlockParams<T>& p, const std::vector<int64_t>& load, T rate) {
  if (!p.gate_bias || load.empty()) return;
  const T mean = static_cast<T>(std::accumulate(load.begin(), load.end(), int64_t{0})) / T(load.size());
  for (size_t e = 0; e < load.size(); ++e) {
    const T l = static_cast<T>(load[e]);
    p.gate_bias.v[e] += l < mean ? rate : (l > mean ? -rate : T(0));
  }
}

#define DSV4_MOE_INSTANTIATE(T)                                                                                  \
  template void moe_fwd<T>(const ModelConfig&, const BlockParams<T>&, const T*, const int32_t*, int64_t, T*,     \
                           MoeCache<T>&);                                                                        \
  template void moe_bwd<T>(const ModelConfig&, const BlockParams<T>&, const T*, int64_t, const MoeCache<T>&,     \
                           const T*, T*);                                                                        \
  template void update_route_bias<T>(const BlockParams<T>&, const std::vector<int64_t>&, T);
DSV4_MOE_INSTANTIATE(float)
DSV4_MOE_INSTANTIATE(double)

}  // namespace dsv4::train

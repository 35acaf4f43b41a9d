#include "train/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "train/gemm.h"
#include "train/ops.h"

namespace dsv4::train {
namespace {

// I(t, e) = sum_h relu(q_h . k_e) w_h over entries 0..nv-1.
template <typename T>
void scores(const T* q, const T* w, const T* keys, int nh, int64_t dh, int64_t nv, T* out) {
  for (int64_t e = 0; e < nv; ++e) {
    T acc = 0;
    for (int h = 0; h < nh; ++h) {
      T dot = 0;
      for (int64_t i = 0; i < dh; ++i) dot += q[h * dh + i] * keys[e * dh + i];
      acc += std::max(dot, T(0)) * w[h];
    }
    out[e] = acc;
  }
}

}  // namespace

template <typename T>
void indexer_fwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* qr, const T* a,
                 int64_t b, int64_t s, IndexerCache<T>& cache) {
  const int nh = c.index_n_heads, m = p.spec.compress_ratio;
  const int64_t dh = c.index_head_dim, n = b * s, rd = c.qk_rope_head_dim, ne = s / m;
  cache.q.assign(n * nh * dh, T(0));
  linear_fwd(qr, p.idx_wq_b.v, n, c.q_lora_rank, nh * dh, cache.q.data());
  for (int64_t t = 0; t < n; ++t)
    for (int h = 0; h < nh; ++h) {
      T* v = &cache.q[(t * nh + h) * dh];
      rope_rotate(v + dh - rd, rope.c(t % s), rope.s(t % s), rd / 2, +1);
      hadamard(v, dh);
    }
  cache.w.assign(n * nh, T(0));
  linear_fwd(a, p.idx_weights_proj.v, n, c.hidden_size, nh, cache.w.data());
  const T wscale = T(1) / std::sqrt(T(dh) * T(nh));
  for (T& v : cache.w) v *= wscale;
  cache.keys.assign(b * ne * dh, T(0));
  compressor_fwd(c, p.idx_comp, rope, true, a, b, s, cache.keys.data(), cache.comp);
  cache.selected.assign(n, {});
  std::vector<T> sc;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t q = t / s, nv = visible_entries(t % s, m);
    if (nv == 0) continue;
    sc.assign(nv, T(0));
    scores(&cache.q[t * nh * dh], &cache.w[t * nh], &cache.keys[q * ne * dh], nh, dh, nv, sc.data());
    const int64_t k = std::min<int64_t>(c.index_topk, nv);
    std::vector<int32_t> idx(nv);
    std::iota(idx.begin(), idx.end(), 0);
    // Descending score, ties by the lower index (the engine's order).
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t x, int32_t y) { return sc[x] > sc[y] || (sc[x] == sc[y] && x < y); });
    idx.resize(k);
    cache.selected[t] = std::move(idx);
  }
}

template <typename T>
T indexer_kl_bwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* qr, const T* a,
                 int64_t b, int64_t s, const IndexerCache<T>& cache, const std::vector<std::vector<T>>& target,
                 T weight) {
  const int nh = c.index_n_heads, m = p.spec.compress_ratio;
  const int64_t dh = c.index_head_dim, n = b * s, rd = c.qk_rope_head_dim, ne = s / m;
  int64_t nq = 0;
  for (int64_t t = 0; t < n; ++t) nq += visible_entries(t % s, m) > 0;
  if (nq == 0) return T(0);
  std::vector<T> dq(n * nh * dh, T(0)), dw(n * nh, T(0)), dkeys(b * ne * dh, T(0)), sc, dots(nh);
  T loss = 0;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t q = t / s, nv = visible_entries(t % s, m);
    if (nv == 0) continue;
    const T* qt = &cache.q[t * nh * dh];
    const T* wt = &cache.w[t * nh];
    const T* keys = &cache.keys[q * ne * dh];
    sc.assign(nv, T(0));
    scores(qt, wt, keys, nh, dh, nv, sc.data());
    const T mx = *std::max_element(sc.begin(), sc.end());
    T z = 0;
    for (T v : sc) z += std::exp(v - mx);
    const T logz = mx + std::log(z);
    for (int64_t e = 0; e < nv; ++e) {
      const T pt = target[t][e], logp_i = sc[e] - logz;
      if (pt > 0) loss += pt * (std::log(pt) - logp_i);
      const T g = (std::exp(logp_i) - pt) * weight / T(nq);  // dKL / dI
      for (int h = 0; h < nh; ++h) {
        T dot = 0;
        for (int64_t i = 0; i < dh; ++i) dot += qt[h * dh + i] * keys[e * dh + i];
        if (dot <= 0) continue;
        dw[t * nh + h] += g * dot;
        const T gd = g * wt[h];
        for (int64_t i = 0; i < dh; ++i) {
          dq[(t * nh + h) * dh + i] += gd * keys[e * dh + i];
          dkeys[(q * ne + e) * dh + i] += gd * qt[h * dh + i];
        }
      }
    }
  }
  for (int64_t t = 0; t < n; ++t)
    for (int h = 0; h < nh; ++h) {
      T* v = &dq[(t * nh + h) * dh];
      hadamard(v, dh);
      rope_rotate(v + dh - rd, rope.c(t % s), rope.s(t % s), rd / 2, -1);
    }
  linear_bwd<T>(dq.data(), qr, p.idx_wq_b.v, n, c.q_lora_rank, nh * dh, nullptr, p.idx_wq_b.g);
  const T wscale = T(1) / std::sqrt(T(dh) * T(nh));
  for (T& v : dw) v *= wscale;
  linear_bwd<T>(dw.data(), a, p.idx_weights_proj.v, n, c.hidden_size, nh, nullptr, p.idx_weights_proj.g);
  compressor_bwd<T>(c, p.idx_comp, rope, true, a, b, s, cache.comp, dkeys.data(), nullptr);
  return loss / T(nq);
}

#define DSV4_IDX_INSTANTIATE(T)                                                                                 \
  template void indexer_fwd<T>(const ModelConfig&, const BlockParams<T>&, const RopeRows&, const T*, const T*, \
                               int64_t, int64_t, IndexerCache<T>&);                                            \
  template T indexer_kl_bwd<T>(const ModelConfig&, const BlockParams<T>&, const RopeRows&, const T*, const T*, \
                               int64_t, int64_t, const IndexerCache<T>&, const std::vector<std::vector<T>>&, T);
DSV4_IDX_INSTANTIATE(float)
DSV4_IDX_INSTANTIATE(double)

}  // namespace dsv4::train

#include "train/compressor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/rope.h"
#include "train/gemm.h"
#include "train/ops.h"

namespace dsv4::train {
namespace {

// The pooling candidates of entry j for one channel: (token, column) pairs. Overlap mode: the A
// half (columns [0, Dc)) of block j-1's tokens and the B half ([Dc, 2Dc)) of block j's.
template <typename F>
void for_candidates(int m, bool overlap, int64_t dc, int64_t j, int64_t ch, F f) {
  if (!overlap) {
    for (int64_t i = j * m; i < (j + 1) * m; ++i) f(i, ch);
    return;
  }
  if (j > 0)
    for (int64_t i = (j - 1) * m; i < j * m; ++i) f(i, ch);
  for (int64_t i = j * m; i < (j + 1) * m; ++i) f(i, dc + ch);
}

}  // namespace

RopeRows make_rope_rows(const ModelConfig& c, bool compressed_layer, int64_t positions) {
  model::RopeTable table(c, compressed_layer);
  RopeRows r;
  r.n_pairs = table.n_pairs();
  r.cos.resize(positions * r.n_pairs);
  r.sin.resize(positions * r.n_pairs);
  for (int64_t p = 0; p < positions; ++p) table.at(p, &r.cos[p * r.n_pairs], &r.sin[p * r.n_pairs]);
  return r;
}

template <typename T>
void compressor_fwd(const ModelConfig& c, const CompressorParams<T>& p, const RopeRows& rope, bool hadamard_out,
                    const T* a, int64_t b, int64_t s, T* entries, CompressorCache<T>& cache) {
  const int m = p.ratio;
  const int64_t dc = p.head_dim, w = (p.overlap ? 2 : 1) * dc, d = c.hidden_size, n = b * s, ne = s / m;
  const int64_t rd = c.qk_rope_head_dim;
  cache.u.assign(n * w, T(0));
  cache.z.assign(n * w, T(0));
  linear_fwd(a, p.wkv.v, n, d, w, cache.u.data());
  linear_fwd(a, p.wgate.v, n, d, w, cache.z.data());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < w; ++i) cache.z[t * w + i] += p.ape.v[((t % s) % m) * w + i];
  cache.pooled.assign(b * ne * dc, T(0));
  cache.r.assign(b * ne, T(0));
  for (int64_t q = 0; q < b; ++q)
    for (int64_t j = 0; j < ne; ++j) {
      T* pooled = &cache.pooled[(q * ne + j) * dc];
      const T* u = &cache.u[q * s * w];
      const T* z = &cache.z[q * s * w];
      for (int64_t ch = 0; ch < dc; ++ch) {
        T mx = -std::numeric_limits<T>::infinity();
        for_candidates(m, p.overlap, dc, j, ch, [&](int64_t i, int64_t col) { mx = std::max(mx, z[i * w + col]); });
        T sum = 0, acc = 0;
        for_candidates(m, p.overlap, dc, j, ch, [&](int64_t i, int64_t col) {
          const T e = std::exp(z[i * w + col] - mx);
          sum += e;
          acc += e * u[i * w + col];
        });
        pooled[ch] = acc / sum;
      }
      T* out = entries + (q * ne + j) * dc;
      cache.r[q * ne + j] = rmsnorm_fwd(pooled, p.norm.v, dc, static_cast<T>(c.rms_norm_eps), out);
      rope_rotate(out + dc - rd, rope.c(j * m), rope.s(j * m), rd / 2, +1);
      if (hadamard_out) hadamard(out, dc);
    }
}

template <typename T>
void compressor_bwd(const ModelConfig& c, const CompressorParams<T>& p, const RopeRows& rope, bool hadamard_out,
                    const T* a, int64_t b, int64_t s, const CompressorCache<T>& cache, const T* dentries, T* da) {
  const int m = p.ratio;
  const int64_t dc = p.head_dim, w = (p.overlap ? 2 : 1) * dc, d = c.hidden_size, n = b * s, ne = s / m;
  const int64_t rd = c.qk_rope_head_dim;
  std::vector<T> du(n * w, T(0)), dz(n * w, T(0)), dy(dc), dpooled(dc);
  for (int64_t q = 0; q < b; ++q)
    for (int64_t j = 0; j < ne; ++j) {
      std::copy(dentries + (q * ne + j) * dc, dentries + (q * ne + j + 1) * dc, dy.begin());
      if (hadamard_out) hadamard(dy.data(), dc);
      rope_rotate(dy.data() + dc - rd, rope.c(j * m), rope.s(j * m), rd / 2, -1);
      std::fill(dpooled.begin(), dpooled.end(), T(0));
      const T* pooled = &cache.pooled[(q * ne + j) * dc];
      rmsnorm_bwd(pooled, p.norm.v, cache.r[q * ne + j], dy.data(), dc, dpooled.data(), p.norm.g);
      const T* u = &cache.u[q * s * w];
      const T* z = &cache.z[q * s * w];
      T* du_q = &du[q * s * w];
      T* dz_q = &dz[q * s * w];
      for (int64_t ch = 0; ch < dc; ++ch) {
        T mx = -std::numeric_limits<T>::infinity();
        for_candidates(m, p.overlap, dc, j, ch, [&](int64_t i, int64_t col) { mx = std::max(mx, z[i * w + col]); });
        T sum = 0;
        for_candidates(m, p.overlap, dc, j, ch, [&](int64_t i, int64_t col) { sum += std::exp(z[i * w + col] - mx); });
        // pooled = sum_i w_i u_i: du_i = g w_i, dz_i = g w_i (u_i - pooled).
        const T g = dpooled[ch];
        for_candidates(m, p.overlap, dc, j, ch, [&](int64_t i, int64_t col) {
          const T wi = std::exp(z[i * w + col] - mx) / sum;
          du_q[i * w + col] += g * wi;
          dz_q[i * w + col] += g * wi * (u[i * w + col] - pooled[ch]);
        });
      }
    }
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < w; ++i) p.ape.g[((t % s) % m) * w + i] += dz[t * w + i];
  linear_bwd(du.data(), a, p.wkv.v, n, d, w, da, p.wkv.g);
  linear_bwd(dz.data(), a, p.wgate.v, n, d, w, da, p.wgate.g);
}

#define DSV4_COMP_INSTANTIATE(T)                                                                                  \
  template void compressor_fwd<T>(const ModelConfig&, const CompressorParams<T>&, const RopeRows&, bool, const T*, \
                                  int64_t, int64_t, T*, CompressorCache<T>&);                                     \
  template void compressor_bwd<T>(const ModelConfig&, const CompressorParams<T>&, const RopeRows&, bool, const T*, \
                                  int64_t, int64_t, const CompressorCache<T>&, const T*, T*);
DSV4_COMP_INSTANTIATE(float)
DSV4_COMP_INSTANTIATE(double)

}  // namespace dsv4::train

// Manifold-constrained hyper-connections (spec §2.3) over n tokens, forward and backward. The
// Sinkhorn projection is differentiated through all its iterations (recomputed in the backward
// from the saved logits: 4x4 per token, cheaper than storing 40 iterates).
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "train/layer_params.h"

namespace dsv4::train {

template <typename T>
struct HcPreCache {
  std::vector<T> rho;   // [n]
  std::vector<T> mix;   // [n, mix] = (fn x) * rho
  std::vector<T> pre;   // [n, hc]
  std::vector<T> post;  // [n, hc]
  std::vector<T> comb;  // [n, hc, hc] after Sinkhorn (row j = input stream j)
};

// x: [n, hc*d] -> a [n, d] (the collapsed sub-layer input), and the cache's post / comb for hc_post.
template <typename T>
void hc_pre_fwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, T* a, HcPreCache<T>& cache);
// da [n, d], dpost [n, hc], dcomb [n, hc, hc] -> dx += ..., parameter gradients +=.
template <typename T>
void hc_pre_bwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, const HcPreCache<T>& cache,
                const T* da, const T* dpost, const T* dcomb, T* dx);

// x_new[k] = post_k o + sum_j comb[j][k] x[j]
template <typename T>
void hc_post_fwd(const ModelConfig& c, const T* o, const T* x, const T* post, const T* comb, int64_t n, T* x_new);
template <typename T>
void hc_post_bwd(const ModelConfig& c, const T* o, const T* x, const T* post, const T* comb, const T* dx_new,
                 int64_t n, T* d_o, T* dx, T* dpost, T* dcomb);

template <typename T>
struct HcHeadCache {
  std::vector<T> rho, mix, w;  // [n], [n, hc], [n, hc]
};
// h = sum_k w_k x[k], w_k = sigmoid(mix_k scale + base_k) + eps.
template <typename T>
void hc_head_fwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, T* h, HcHeadCache<T>& cache);
template <typename T>
void hc_head_bwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, const HcHeadCache<T>& cache,
                 const T* dh, T* dx);

// The Sinkhorn projection of one hc x hc matrix (exposed for tests) and its backward.
template <typename T>
void sinkhorn_fwd(const T* logits, int hc, int iters, T eps, T* out);
template <typename T>
void sinkhorn_bwd(const T* logits, int hc, int iters, T eps, const T* dout, T* dlogits);

}  // namespace dsv4::train

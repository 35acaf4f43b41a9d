// Manifold-constrained hyper-connections (spec §2.3): the residual stream is n_hc bf16 copies of
// the hidden state; HC_pre collapses them into one sub-layer input (weights from a Sinkhorn-
// projected mixer), HC_post expands the sub-layer output back, HC_head collapses before the head.
#pragma once
#include <cstdint>
#include <vector>

#include "model/weights.h"

namespace dsv4::model {

struct HcMix {
  std::vector<float> pre;   // [hc]
  std::vector<float> post;  // [hc]
  std::vector<float> comb;  // [hc, hc], row j = input stream j
};

// Splits the 24 mixer outputs and runs the Sinkhorn projection (fp32, eps = hc_eps).
HcMix hc_split_sinkhorn(const float* mixes, const float* scale, const float* base, int hc, int iters, float eps);
// x: [hc, d] bf16 values. Returns the mix and writes the collapsed input y[d] (bf16).
HcMix hc_pre(const float* x, const HcSite& site, int hc, int64_t d, int iters, float norm_eps, float hc_eps,
             float* y);
// x_new[k] = bf16(post_k * o + sum_j comb[j][k] * x_old[j]); x_old and x_new may not alias.
void hc_post(const float* o, const float* x_old, const HcMix& mix, int hc, int64_t d, float* x_new);
// Collapses x[hc, d] with sigmoid weights (no Sinkhorn) into y[d] (bf16).
void hc_head(const float* x, const HcSite& site, int hc, int64_t d, float norm_eps, float hc_eps, float* y);

}  // namespace dsv4::model

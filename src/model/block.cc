#include "model/block.h"

#include "kernels/ops.h"
#include "model/attention.h"
#include "model/hyper_conn.h"
#include "model/moe.h"

namespace dsv4::model {

void block_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, LayerState& st, float* x,
                   const int32_t* tokens, int64_t n, int64_t pos0, LayerTrace* trace) {
  const Segment seg{&st, 0, n, pos0};
  block_forward(c, w, rope, std::span<const Segment>(&seg, 1), x, tokens, n, trace);
}

void block_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                   std::span<const Segment> segments, float* x, const int32_t* tokens, int64_t n, LayerTrace* trace) {
  const int hc = c.hc_mult;
  const int64_t d = c.hidden_size;
  const float eps = static_cast<float>(c.rms_norm_eps), hc_eps = static_cast<float>(c.hc_eps);
  std::vector<float> a(n * d), sub(n * d), old(hc * d);
  std::vector<HcMix> mixes(n);

  for (int64_t t = 0; t < n; ++t) {
    mixes[t] = hc_pre(&x[t * hc * d], w.hc_attn, hc, d, c.hc_sinkhorn_iters, eps, hc_eps, &a[t * d]);
    kernels::rms_norm(&a[t * d], w.attn_norm, d, eps, &a[t * d]);
  }
  attention_forward(c, w, rope, segments, a.data(), n, sub.data(), trace);
  for (int64_t t = 0; t < n; ++t) {
    std::copy(&x[t * hc * d], &x[(t + 1) * hc * d], old.begin());
    hc_post(&sub[t * d], old.data(), mixes[t], hc, d, &x[t * hc * d]);
  }

  for (int64_t t = 0; t < n; ++t) {
    mixes[t] = hc_pre(&x[t * hc * d], w.hc_ffn, hc, d, c.hc_sinkhorn_iters, eps, hc_eps, &a[t * d]);
    kernels::rms_norm(&a[t * d], w.ffn_norm, d, eps, &a[t * d]);
  }
  moe_forward(c, w, a.data(), tokens, n, sub.data(), trace);
  for (int64_t t = 0; t < n; ++t) {
    std::copy(&x[t * hc * d], &x[(t + 1) * hc * d], old.begin());
    hc_post(&sub[t * d], old.data(), mixes[t], hc, d, &x[t * hc * d]);
  }
}

}  // namespace dsv4::model

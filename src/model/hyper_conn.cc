#include "model/hyper_conn.h"

#include <algorithm>
#include <cmath>

#include "base/profile.h"
#include "kernels/linear.h"
#include "kernels/ops.h"

namespace dsv4::model {
namespace {

// mixes[n_out] = (fn @ x) * rsqrt(mean(x^2) + eps): the reference scales the unnormalised product.
void hc_mixes(const float* x, const float* fn, int64_t n_out, int64_t width, float norm_eps, float* mixes) {
  const float ss = kernels::torch_row_sum_squares(x, width, kernels::kTorchVecWidth);
  const float r = 1.0f / std::sqrt(ss / static_cast<float>(width) + norm_eps);
  kernels::linear_f32(x, 1, fn, n_out, width, mixes);
  for (int64_t i = 0; i < n_out; ++i) mixes[i] *= r;
}

}  // namespace

HcMix hc_split_sinkhorn(const float* mixes, const float* scale, const float* base, int hc, int iters, float eps) {
  HcMix m;
  m.pre.resize(hc);
  m.post.resize(hc);
  m.comb.resize(hc * hc);
  for (int j = 0; j < hc; ++j) {
    m.pre[j] = kernels::sigmoidf(mixes[j] * scale[0] + base[j]) + eps;
    m.post[j] = 2.0f * kernels::sigmoidf(mixes[hc + j] * scale[1] + base[hc + j]);
  }
  float* c = m.comb.data();
  for (int i = 0; i < hc * hc; ++i) c[i] = mixes[2 * hc + i] * scale[2] + base[2 * hc + i];
  std::vector<float> col(hc);
  auto col_normalize = [&] {
    std::fill(col.begin(), col.end(), 0.0f);
    for (int j = 0; j < hc; ++j)
      for (int k = 0; k < hc; ++k) col[k] += c[j * hc + k];
    for (int j = 0; j < hc; ++j)
      for (int k = 0; k < hc; ++k) c[j * hc + k] /= (col[k] + eps);
  };
  for (int j = 0; j < hc; ++j) {  // row softmax, then + eps
    float* row = c + j * hc;
    const float mx = *std::max_element(row, row + hc);
    float sum = 0.0f;
    for (int k = 0; k < hc; ++k) sum += (row[k] = std::exp(row[k] - mx));
    for (int k = 0; k < hc; ++k) row[k] = row[k] / sum + eps;
  }
  col_normalize();
  for (int it = 1; it < iters; ++it) {
    for (int j = 0; j < hc; ++j) {
      float* row = c + j * hc;
      float sum = 0.0f;
      for (int k = 0; k < hc; ++k) sum += row[k];
      for (int k = 0; k < hc; ++k) row[k] /= (sum + eps);
    }
    col_normalize();
  }
  return m;
}

HcMix hc_pre(const float* x, const HcSite& site, int hc, int64_t d, int iters, float norm_eps, float hc_eps,
             float* y) {
  DSV4_PROFILE_SCOPE("hc.pre");
  const int n_mix = (2 + hc) * hc;
  std::vector<float> mixes(n_mix);
  hc_mixes(x, site.fn, n_mix, hc * d, norm_eps, mixes.data());
  HcMix m = hc_split_sinkhorn(mixes.data(), site.scale, site.base, hc, iters, hc_eps);
  for (int64_t i = 0; i < d; ++i) {
    float acc = 0.0f;
    for (int k = 0; k < hc; ++k) acc += m.pre[k] * x[k * d + i];
    y[i] = round_bf16(acc);
  }
  return m;
}

void hc_post(const float* o, const float* x_old, const HcMix& mix, int hc, int64_t d, float* x_new) {
  DSV4_PROFILE_SCOPE("hc.post");
  for (int k = 0; k < hc; ++k)
    for (int64_t i = 0; i < d; ++i) {
      float acc = 0.0f;
      for (int j = 0; j < hc; ++j) acc += mix.comb[j * hc + k] * x_old[j * d + i];
      x_new[k * d + i] = round_bf16(mix.post[k] * o[i] + acc);
    }
}

void hc_head(const float* x, const HcSite& site, int hc, int64_t d, float norm_eps, float hc_eps, float* y) {
  DSV4_PROFILE_SCOPE("hc.head");
  std::vector<float> mixes(hc);
  hc_mixes(x, site.fn, hc, hc * d, norm_eps, mixes.data());
  std::vector<float> w(hc);
  for (int k = 0; k < hc; ++k) w[k] = kernels::sigmoidf(mixes[k] * site.scale[0] + site.base[k]) + hc_eps;
  for (int64_t i = 0; i < d; ++i) {
    float acc = 0.0f;
    for (int k = 0; k < hc; ++k) acc += w[k] * x[k * d + i];
    y[i] = round_bf16(acc);
  }
}

}  // namespace dsv4::model

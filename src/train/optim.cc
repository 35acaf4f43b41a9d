#include "train/optim.h"

#include <algorithm>
#include <cmath>

#include "train/gemm.h"

namespace dsv4::train {

void newton_schulz(float* g, int64_t rows, int64_t cols, int steps) {
  // Work on the wide orientation x [r, c] with r <= c, so the Gram matrix x x^T is the small one.
  const bool tall = rows > cols;
  const int64_t r = tall ? cols : rows, c = tall ? rows : cols;
  std::vector<float> x(r * c), xt(c * r), a(r * r), bm(r * r), y(r * c);
  if (tall)
    transpose(g, rows, cols, x.data());
  else
    std::copy(g, g + r * c, x.begin());
  double norm = 0;
  for (float v : x) norm += double(v) * v;
  const float inv = static_cast<float>(1.0 / (std::sqrt(norm) + 1e-7));
  for (float& v : x) v *= inv;
  const float ka = 3.4445f, kb = -4.7750f, kc = 2.0315f;  // the quintic of Muon's reference
  for (int it = 0; it < steps; ++it) {
    transpose(x.data(), r, c, xt.data());
    std::fill(a.begin(), a.end(), 0.0f);
    gemm_acc(r, r, c, x.data(), c, xt.data(), r, a.data(), r);  // a = x x^T
    std::fill(bm.begin(), bm.end(), 0.0f);
    gemm_acc(r, r, r, a.data(), r, a.data(), r, bm.data(), r);  // a a
    for (int64_t i = 0; i < r * r; ++i) bm[i] = kb * a[i] + kc * bm[i];
    for (int64_t i = 0; i < r * c; ++i) y[i] = ka * x[i];
    gemm_acc(r, c, r, bm.data(), r, x.data(), c, y.data(), c);  // y = ka x + (kb a + kc a a) x
    std::swap(x, y);
  }
  if (tall)
    transpose(x.data(), r, c, g);
  else
    std::copy(x.begin(), x.end(), g);
}

Optimizer::Optimizer(const Params<float>& ps, OptimConfig cfg) : cfg_(cfg) {
  m_.assign(ps.values.size(), 0.0f);
  v_.assign(ps.values.size(), 0.0f);
}

double Optimizer::lr_at(int64_t step) const {
  if (step < cfg_.warmup) return cfg_.lr * double(step + 1) / double(cfg_.warmup);
  const double span = std::max<int64_t>(1, cfg_.total_steps - cfg_.warmup);
  const double progress = std::min(1.0, double(step - cfg_.warmup) / span);
  const double cosine = 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  return cfg_.lr * (cfg_.min_lr_ratio + (1.0 - cfg_.min_lr_ratio) * cosine);
}

double Optimizer::step(Params<float>& ps, int64_t step) {
  double sq = 0;
  for (const ParamEntry& e : ps.entries()) {
    if (e.group == ParamGroup::kBuffer) continue;
    for (int64_t i = 0; i < e.numel; ++i) sq += double(ps.grads[e.offset + i]) * ps.grads[e.offset + i];
  }
  const double norm = std::sqrt(sq);
  const float clip = cfg_.clip > 0 && norm > cfg_.clip ? static_cast<float>(cfg_.clip / norm) : 1.0f;
  const float lr = static_cast<float>(lr_at(step));
  const double t = double(step + 1);
  const float bc1 = static_cast<float>(1.0 - std::pow(cfg_.beta1, t)), bc2 = static_cast<float>(1.0 - std::pow(cfg_.beta2, t));
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2), mu = static_cast<float>(cfg_.momentum);
  std::vector<float> u;
  for (const ParamEntry& e : ps.entries()) {
    if (e.group == ParamGroup::kBuffer) continue;
    float* w = ps.values.data() + e.offset;
    const float* g = ps.grads.data() + e.offset;
    float* m = m_.data() + e.offset;
    const float decay = e.weight_decay ? 1.0f - lr * static_cast<float>(cfg_.weight_decay) : 1.0f;
    if (e.group == ParamGroup::kMuon) {
      u.resize(e.numel);
      for (int64_t i = 0; i < e.numel; ++i) {
        const float gi = g[i] * clip;
        m[i] = mu * m[i] + gi;
        u[i] = gi + mu * m[i];  // Nesterov
      }
      newton_schulz(u.data(), e.shape[0], e.shape[1], cfg_.ns_steps);
      const float scale = 0.2f * std::sqrt(static_cast<float>(std::max(e.shape[0], e.shape[1])));
      for (int64_t i = 0; i < e.numel; ++i) w[i] = w[i] * decay - lr * scale * u[i];
    } else {
      float* v = v_.data() + e.offset;
      for (int64_t i = 0; i < e.numel; ++i) {
        const float gi = g[i] * clip;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        const float mh = m[i] / bc1, vh = v[i] / bc2;
        w[i] = w[i] * decay - lr * mh / (std::sqrt(vh) + static_cast<float>(cfg_.eps));
      }
    }
  }
  return norm;
}

}  // namespace dsv4::train

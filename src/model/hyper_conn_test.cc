// Hyper-connections against spec §2.3 written out in double: the mixer (unnormalised product
// times rho), the split into pre / post / comb, the literal Sinkhorn (softmax + eps, column
// normalisation, then iters-1 row/column rounds) and the collapse / expansion formulas.
#include "model/hyper_conn.h"
#include "tensor/test_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace dsv4::model {
namespace {

using test_values::bf16_ulp;

std::vector<float> random_floats(int64_t n, float sigma, uint32_t seed, bool bf16_values = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16_values ? round_bf16(dist(rng)) : dist(rng);
  return v;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct MixRef {
  std::vector<double> pre, post, comb;
};

MixRef sinkhorn_literal(const std::vector<double>& mixes, const float* scale, const float* base, int hc, int iters,
                        double eps) {
  MixRef r;
  r.pre.resize(hc);
  r.post.resize(hc);
  r.comb.resize(hc * hc);
  for (int k = 0; k < hc; ++k) {
    r.pre[k] = sigmoid(mixes[k] * scale[0] + base[k]) + eps;
    r.post[k] = 2.0 * sigmoid(mixes[hc + k] * scale[1] + base[hc + k]);
  }
  std::vector<double>& C = r.comb;
  for (int i = 0; i < hc * hc; ++i) C[i] = mixes[2 * hc + i] * scale[2] + base[2 * hc + i];
  auto col_norm = [&] {
    for (int k = 0; k < hc; ++k) {
      double s = 0.0;
      for (int j = 0; j < hc; ++j) s += C[j * hc + k];
      for (int j = 0; j < hc; ++j) C[j * hc + k] /= s + eps;
    }
  };
  for (int j = 0; j < hc; ++j) {
    double mx = -INFINITY, s = 0.0;
    for (int k = 0; k < hc; ++k) mx = std::max(mx, C[j * hc + k]);
    for (int k = 0; k < hc; ++k) s += std::exp(C[j * hc + k] - mx);
    for (int k = 0; k < hc; ++k) C[j * hc + k] = std::exp(C[j * hc + k] - mx) / s + eps;
  }
  col_norm();
  for (int it = 1; it < iters; ++it) {
    for (int j = 0; j < hc; ++j) {
      double s = 0.0;
      for (int k = 0; k < hc; ++k) s += C[j * hc + k];
      for (int k = 0; k < hc; ++k) C[j * hc + k] /= s + eps;
    }
    col_norm();
  }
  return r;
}

void expect_mix_close(const HcMix& m, const MixRef& r, int hc, double tol) {
  ASSERT_EQ(m.pre.size(), static_cast<size_t>(hc));
  ASSERT_EQ(m.post.size(), static_cast<size_t>(hc));
  ASSERT_EQ(m.comb.size(), static_cast<size_t>(hc * hc));
  for (int k = 0; k < hc; ++k) {
    EXPECT_NEAR(m.pre[k], r.pre[k], tol) << "pre " << k;
    EXPECT_NEAR(m.post[k], r.post[k], tol) << "post " << k;
  }
  for (int i = 0; i < hc * hc; ++i) EXPECT_NEAR(m.comb[i], r.comb[i], tol) << "comb " << i;
}

TEST(HcSinkhorn, MatchesDoubleLiteralAndIsDoublyStochastic) {
  for (int hc : {4, 3}) {
    const int n_mix = (2 + hc) * hc;
    for (uint32_t seed = 1; seed <= 5; ++seed) {
      const std::vector<float> mixes = random_floats(n_mix, 2.0f, seed);
      const std::vector<float> base = random_floats(n_mix, 1.0f, seed + 100);
      const float scale[3] = {0.7f, 1.3f, 0.9f};
      const float eps = 1e-6f;
      const HcMix m = hc_split_sinkhorn(mixes.data(), scale, base.data(), hc, 20, eps);
      const MixRef r = sinkhorn_literal(std::vector<double>(mixes.begin(), mixes.end()), scale, base.data(), hc, 20, eps);
      expect_mix_close(m, r, hc, 2e-6);
      for (int k = 0; k < hc; ++k) {
        EXPECT_GT(m.pre[k], eps);
        EXPECT_LT(m.pre[k], 1.0f + eps);
        EXPECT_GT(m.post[k], 0.0f);
        EXPECT_LT(m.post[k], 2.0f);
      }
      for (int k = 0; k < hc; ++k) {
        double col = 0.0, row = 0.0;
        for (int j = 0; j < hc; ++j) {
          col += m.comb[j * hc + k];
          row += m.comb[k * hc + j];
          EXPECT_GT(m.comb[j * hc + k], 0.0f);
        }
        EXPECT_NEAR(col, 1.0, 1e-5) << "column " << k;  // last step is a column normalisation
        // 20 rounds leave peaked matrices a little off on the rows (the double literal too).
        EXPECT_NEAR(row, 1.0, 5e-2) << "row " << k;
      }
      // Run long enough, the projection converges: rows and columns both sum to 1.
      const HcMix conv = hc_split_sinkhorn(mixes.data(), scale, base.data(), hc, 500, eps);
      for (int k = 0; k < hc; ++k) {
        double col = 0.0, row = 0.0;
        for (int j = 0; j < hc; ++j) {
          col += conv.comb[j * hc + k];
          row += conv.comb[k * hc + j];
        }
        EXPECT_NEAR(col, 1.0, 1e-5) << "column " << k;
        EXPECT_NEAR(row, 1.0, 1e-4) << "row " << k;
      }
    }
  }
}

TEST(HcSinkhorn, IterationCountMatters) {
  // One iteration is softmax + one column normalisation only; it must match the literal with
  // iters = 1 and differ from iters = 20 (so the loop count is really honoured).
  const int hc = 4;
  const std::vector<float> mixes = random_floats(24, 3.0f, 42);
  const std::vector<float> base = random_floats(24, 1.0f, 43);
  const float scale[3] = {1.0f, 1.0f, 1.0f};
  const HcMix one = hc_split_sinkhorn(mixes.data(), scale, base.data(), hc, 1, 1e-6f);
  const MixRef r1 = sinkhorn_literal(std::vector<double>(mixes.begin(), mixes.end()), scale, base.data(), hc, 1, 1e-6);
  expect_mix_close(one, r1, hc, 2e-6);
  const HcMix many = hc_split_sinkhorn(mixes.data(), scale, base.data(), hc, 20, 1e-6f);
  double diff = 0.0;
  for (int i = 0; i < 16; ++i) diff = std::max(diff, static_cast<double>(std::fabs(one.comb[i] - many.comb[i])));
  EXPECT_GT(diff, 1e-3);
}

// A mixer site with random fp32 parameters: fn [mix, hc*d], base [mix], scale [3] (or [1]).
struct Site {
  std::vector<float> fn, base, scale;
  HcSite site;
  Site(int64_t n_mix, int64_t width, int n_scale, uint32_t seed)
      : fn(random_floats(n_mix * width, 0.05f, seed)), base(random_floats(n_mix, 0.5f, seed + 1)),
        scale(random_floats(n_scale, 0.5f, seed + 2)) {
    site = {fn.data(), base.data(), scale.data()};
  }
};

// mix = (fn @ x) * rsqrt(mean(x^2) + eps), in double.
std::vector<double> mixer(const std::vector<float>& x, const Site& s, int64_t n_mix, double eps) {
  const int64_t width = static_cast<int64_t>(x.size());
  double ss = 0.0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double rho = 1.0 / std::sqrt(ss / width + eps);
  std::vector<double> mix(n_mix, 0.0);
  for (int64_t j = 0; j < n_mix; ++j) {
    for (int64_t i = 0; i < width; ++i) mix[j] += static_cast<double>(s.fn[j * width + i]) * x[i];
    mix[j] *= rho;
  }
  return mix;
}

TEST(HcPre, CollapsesWithSinkhornWeights) {
  const int hc = 4, iters = 20;
  const int64_t d = 37, n_mix = (2 + hc) * hc;
  const float eps = 1e-6f, hc_eps = 1e-6f;
  const Site s(n_mix, hc * d, 3, 7);
  const std::vector<float> x = random_floats(hc * d, 1.0f, 8, true);
  std::vector<float> y(d);
  const HcMix m = hc_pre(x.data(), s.site, hc, d, iters, eps, hc_eps, y.data());
  const MixRef r = sinkhorn_literal(mixer(x, s, n_mix, eps), s.scale.data(), s.base.data(), hc, iters, hc_eps);
  expect_mix_close(m, r, hc, 1e-5);
  for (int64_t i = 0; i < d; ++i) {
    double ref = 0.0;
    for (int k = 0; k < hc; ++k) ref += r.pre[k] * x[k * d + i];
    ASSERT_EQ(y[i], round_bf16(y[i]));
    ASSERT_LE(std::fabs(y[i] - ref), bf16_ulp(ref)) << i;
  }
}

TEST(HcPost, ExpandsWithPostAndCombColumns) {
  const int hc = 4;
  const int64_t d = 29;
  HcMix m;
  m.pre = random_floats(hc, 0.3f, 20);
  m.post = random_floats(hc, 1.0f, 21);
  m.comb = random_floats(hc * hc, 0.5f, 22);  // deliberately not symmetric: checks the index order
  const std::vector<float> o = random_floats(d, 1.0f, 23, true);
  const std::vector<float> x_old = random_floats(hc * d, 1.0f, 24, true);
  std::vector<float> x_new(hc * d);
  hc_post(o.data(), x_old.data(), m, hc, d, x_new.data());
  for (int k = 0; k < hc; ++k)
    for (int64_t i = 0; i < d; ++i) {
      double ref = static_cast<double>(m.post[k]) * o[i];
      for (int j = 0; j < hc; ++j) ref += static_cast<double>(m.comb[j * hc + k]) * x_old[j * d + i];
      const float got = x_new[k * d + i];
      ASSERT_EQ(got, round_bf16(got));
      ASSERT_LE(std::fabs(got - ref), bf16_ulp(ref)) << k << "," << i;
    }
}

TEST(HcHead, CollapsesWithSigmoidWeights) {
  const int hc = 4;
  const int64_t d = 45;
  const float eps = 1e-6f, hc_eps = 1e-6f;
  const Site s(hc, hc * d, 1, 30);
  const std::vector<float> x = random_floats(hc * d, 2.0f, 31, true);
  std::vector<float> y(d);
  hc_head(x.data(), s.site, hc, d, eps, hc_eps, y.data());
  const std::vector<double> mix = mixer(x, s, hc, eps);
  for (int64_t i = 0; i < d; ++i) {
    double ref = 0.0;
    for (int k = 0; k < hc; ++k) ref += (sigmoid(mix[k] * s.scale[0] + s.base[k]) + hc_eps) * x[k * d + i];
    ASSERT_EQ(y[i], round_bf16(y[i]));
    ASSERT_LE(std::fabs(y[i] - ref), bf16_ulp(ref)) << i;
  }
}

}  // namespace
}  // namespace dsv4::model

// Row-wise ops against plain formulations of spec §2.0 / §2.4 / §2.5 / §2.8: double-precision
// formulas for RMSNorm, sums, RoPE and the Hadamard transform (explicit Sylvester matrix), and the
// literal bf16 step sequence for the per-head query norm.
#include "kernels/ops.h"
#include "tensor/test_values.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

namespace dsv4::kernels {
namespace {

using test_values::to_bf16;
using test_values::random_bf16_values;

// One bf16 ulp at |v| (the spacing of bf16 values in v's binade; 8 significant bits).
double bf16_ulp(double v) {
  if (v == 0.0) return std::ldexp(1.0, -133);
  int e = 0;
  std::frexp(v, &e);  // |v| in [2^(e-1), 2^e)
  return std::ldexp(1.0, e - 1 - 7);
}

// ---- sums ------------------------------------------------------------------------------------

const int64_t kSumSizes[] = {0, 1, 7, 8, 9, 31, 32, 33, 63, 100, 257, 1000, 4097, 70001};

TEST(TorchRowSum, IntegerValuedRowsSumExactly) {
  // Small integers: every partial sum is exact in fp32, so any order must give the exact total;
  // a skipped or doubled element (lanes, tails, cascade levels) shows up as a wrong integer.
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> dist(-15, 15);  // 70001 * 15^2 < 2^24
  for (int64_t n : kSumSizes) {
    for (int vw : {8, 16, 4}) {
      std::vector<float> x(n);
      int64_t exact = 0, exact_sq = 0;
      for (auto& v : x) {
        v = static_cast<float>(dist(rng));
        exact += static_cast<int64_t>(v);
        exact_sq += static_cast<int64_t>(v) * static_cast<int64_t>(v);
      }
      ASSERT_EQ(torch_row_sum(x.data(), n, vw), static_cast<float>(exact)) << "n=" << n << " vw=" << vw;
      ASSERT_EQ(torch_row_sum_squares(x.data(), n, vw), static_cast<float>(exact_sq)) << "n=" << n << " vw=" << vw;
    }
  }
}

TEST(TorchRowSum, RandomRowsCloseToExactDoubleSum) {
  for (int64_t n : kSumSizes) {
    const std::vector<float> x = random_bf16_values(n, 1.0f, static_cast<uint32_t>(n) + 3);
    double exact = 0.0, sumabs = 0.0, exact_sq = 0.0;
    for (float v : x) {
      exact += v;
      sumabs += std::fabs(v);
      exact_sq += static_cast<double>(v) * v;
    }
    // Cascaded/vectorised summation: error well below n * eps; 64 eps covers every size here.
    const double eps = std::ldexp(1.0, -24);
    EXPECT_LE(std::fabs(torch_row_sum(x.data(), n, kTorchVecWidth) - exact), 64 * eps * sumabs + 1e-30) << n;
    EXPECT_LE(std::fabs(torch_row_sum_squares(x.data(), n, kTorchVecWidth) - exact_sq), 64 * eps * exact_sq + 1e-30)
        << n;
  }
}

// ---- RMSNorm ---------------------------------------------------------------------------------

void check_rms_norm(int64_t n, float sigma, uint32_t seed, bool in_place) {
  const std::vector<float> x = random_bf16_values(n, sigma, seed);
  const std::vector<float> wf = random_bf16_values(n, 1.0f, seed + 1);
  std::vector<bf16> w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = f32_to_bf16(wf[i]);
  const float eps = 1e-6f;
  double ss = 0.0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double r = 1.0 / std::sqrt(ss / n + static_cast<double>(eps));
  std::vector<float> y(x);
  if (in_place) {
    rms_norm(y.data(), w.data(), n, eps, y.data());
  } else {
    rms_norm(x.data(), w.data(), n, eps, y.data());
  }
  int exact = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double ref = static_cast<double>(wf[i]) * x[i] * r;
    ASSERT_EQ(y[i], round_bf16(y[i]));
    ASSERT_LE(std::fabs(y[i] - ref), bf16_ulp(ref)) << "i=" << i << " y=" << y[i] << " ref=" << ref;
    exact += y[i] == to_bf16(ref);
  }
  EXPECT_GE(exact, n * 95 / 100);  // a 1-ulp difference is a rare rounding-boundary case
}

TEST(RmsNorm, MatchesDoubleFormulaWithinOneBf16Ulp) {
  check_rms_norm(301, 1.0f, 10, false);
  check_rms_norm(4099, 30.0f, 11, false);
  check_rms_norm(1, 0.5f, 12, false);
  check_rms_norm(77, 1e-3f, 13, true);  // eps matters here; x aliases y
}

TEST(RmsNorm, EpsIsInsideTheRoot) {
  // All-zero input with eps: y = w * 0 * rsqrt(eps) = 0, and a tiny input is scaled by ~1/sqrt(eps).
  const int64_t n = 5;
  std::vector<float> x(n, 0.0f), y(n, 1.0f);
  std::vector<bf16> w(n, f32_to_bf16(1.0f));
  rms_norm(x.data(), w.data(), n, 1e-6f, y.data());
  for (float v : y) EXPECT_EQ(v, 0.0f);
  std::fill(x.begin(), x.end(), 1e-6f);
  rms_norm(x.data(), w.data(), n, 1e-6f, y.data());
  // mean(x^2) = 1e-12 << eps: y ~ 1e-6 / sqrt(1e-6 + 1e-12) ~ 1e-3.
  for (float v : y) EXPECT_NEAR(v, 1e-3, 1e-3 * 1e-2);
}

// ---- per-head bf16 RMS norm -------------------------------------------------------------------

// Spec §2.4 literally: square -> bf16, mean (fp32 accumulation) -> bf16, + eps (fp32) -> bf16,
// rsqrt -> bf16, product -> bf16.
std::vector<float> head_norm_literal(const std::vector<float>& x, float eps) {
  const int64_t n = static_cast<int64_t>(x.size());
  double ss = 0.0;
  for (float v : x) ss += to_bf16(static_cast<double>(v) * v);
  const float mean = to_bf16(ss / n);
  const float plus_eps = to_bf16(static_cast<double>(mean) + static_cast<double>(eps));
  const float r = to_bf16(1.0 / std::sqrt(static_cast<double>(plus_eps)));
  std::vector<float> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = to_bf16(static_cast<double>(x[i]) * r);
  return y;
}

TEST(HeadRmsNormBf16, MatchesLiteralBf16Steps) {
  int total = 0, mismatches = 0;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    for (int64_t n : {int64_t{128}, int64_t{40}, int64_t{7}}) {
      std::vector<float> x = random_bf16_values(n, seed % 2 ? 3.0f : 0.05f, 100 + seed);
      const std::vector<float> ref = head_norm_literal(x, 1e-6f);
      head_rms_norm_bf16(x.data(), n, 1e-6f);
      for (int64_t i = 0; i < n; ++i) {
        ++total;
        mismatches += x[i] != ref[i];
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << total;
}

TEST(HeadRmsNormBf16, DiffersFromFp32Factor) {
  // The bf16 rounding of the factor is visible: with an fp32 factor (HF's variant) many outputs
  // differ, so the test above really checks the bf16 step sequence.
  std::vector<float> x = random_bf16_values(128, 1.0f, 7);
  double ss = 0.0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double r = 1.0 / std::sqrt(ss / 128 + 1e-6);
  std::vector<float> hf(128);
  for (int i = 0; i < 128; ++i) hf[i] = to_bf16(x[i] * r);
  head_rms_norm_bf16(x.data(), 128, 1e-6f);
  int differ = 0;
  for (int i = 0; i < 128; ++i) differ += x[i] != hf[i];
  EXPECT_GT(differ, 5);
}

// ---- RoPE ------------------------------------------------------------------------------------

TEST(RopeRotate, MatchesComplexMultiplyAndInverts) {
  const int64_t pairs = 21;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> ang(-100.0f, 100.0f);
  std::vector<float> cs(pairs), sn(pairs);
  for (int64_t i = 0; i < pairs; ++i) {
    const float a = ang(rng);
    cs[i] = std::cos(a);
    sn[i] = std::sin(a);
  }
  const std::vector<float> x = random_bf16_values(2 * pairs, 2.0f, 6);
  std::vector<float> y(x);
  rope_rotate(y.data(), cs.data(), sn.data(), pairs, false);
  for (int64_t i = 0; i < pairs; ++i) {
    const double re = x[2 * i], im = x[2 * i + 1];
    const double ref_re = re * cs[i] - im * sn[i], ref_im = re * sn[i] + im * cs[i];
    ASSERT_EQ(y[2 * i], round_bf16(y[2 * i]));
    ASSERT_LE(std::fabs(y[2 * i] - ref_re), bf16_ulp(ref_re)) << i;
    ASSERT_LE(std::fabs(y[2 * i + 1] - ref_im), bf16_ulp(ref_im)) << i;
  }
  std::vector<float> back(y);
  rope_rotate(back.data(), cs.data(), sn.data(), pairs, true);
  int changed = 0;
  for (int64_t i = 0; i < pairs; ++i) {
    // Inverse of the rotated bf16 values in double, then the tolerance of two bf16 roundings.
    const double re = y[2 * i], im = y[2 * i + 1];
    const double inv_re = re * cs[i] + im * sn[i], inv_im = -re * sn[i] + im * cs[i];
    ASSERT_LE(std::fabs(back[2 * i] - inv_re), bf16_ulp(inv_re)) << i;
    ASSERT_LE(std::fabs(back[2 * i + 1] - inv_im), bf16_ulp(inv_im)) << i;
    const double mag = std::hypot(x[2 * i], x[2 * i + 1]);
    ASSERT_LE(std::fabs(back[2 * i] - x[2 * i]), std::ldexp(mag, -6)) << i;
    ASSERT_LE(std::fabs(back[2 * i + 1] - x[2 * i + 1]), std::ldexp(mag, -6)) << i;
    changed += (y[2 * i] != x[2 * i]);
  }
  EXPECT_GT(changed, pairs / 2);  // the rotation did something
}

// ---- Hadamard --------------------------------------------------------------------------------

// Sylvester order: H[i][j] = (-1)^popcount(i & j).
int sylvester(int64_t i, int64_t j) { return std::popcount(static_cast<uint64_t>(i & j)) % 2 ? -1 : 1; }

TEST(HadamardBf16, MatchesExplicitSylvesterProduct) {
  for (int64_t n : {int64_t{1}, int64_t{2}, int64_t{8}, int64_t{64}, int64_t{128}}) {
    const std::vector<float> x = random_bf16_values(n, 1.5f, static_cast<uint32_t>(n));
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
    std::vector<float> y(x);
    hadamard_bf16(y.data(), n, scale);
    for (int64_t i = 0; i < n; ++i) {
      double acc = 0.0, sumabs = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        acc += sylvester(i, j) * static_cast<double>(x[j]);
        sumabs += std::fabs(x[j]);
      }
      const double ref = acc * scale;
      ASSERT_EQ(y[i], round_bf16(y[i]));
      // fp32 butterflies: log2(n) roundings of partial sums, then one bf16 rounding.
      ASSERT_LE(std::fabs(y[i] - ref), bf16_ulp(ref) + 8 * std::ldexp(sumabs * scale, -24)) << "n=" << n << " i=" << i;
    }
  }
}

TEST(HadamardBf16, SquareIsNTimesIdentity) {
  const int64_t n = 32;
  // Columns of H from unit vectors (exact: entries are +-1).
  std::vector<std::vector<float>> col(n, std::vector<float>(n, 0.0f));
  for (int64_t j = 0; j < n; ++j) {
    col[j][j] = 1.0f;
    hadamard_bf16(col[j].data(), n, 1.0f);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(col[j][i], sylvester(i, j)) << i << "," << j;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      double acc = 0.0;  // (H H)[i][k] = sum_j H[i][j] H[j][k]
      for (int64_t j = 0; j < n; ++j) acc += static_cast<double>(col[j][i]) * col[k][j];
      ASSERT_EQ(acc, i == k ? static_cast<double>(n) : 0.0) << i << "," << k;
    }
  // Applying the scaled transform twice returns the input within two bf16 roundings.
  const std::vector<float> x = random_bf16_values(n, 1.0f, 9);
  std::vector<float> y(x);
  const float s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  hadamard_bf16(y.data(), n, s);
  hadamard_bf16(y.data(), n, s);
  double norm = 0.0;
  for (float v : x) norm += static_cast<double>(v) * v;
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i], std::ldexp(std::sqrt(norm), -6)) << i;
}

}  // namespace
}  // namespace dsv4::kernels

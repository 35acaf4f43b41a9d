// Linear kernels against a plain formulation of spec §2.0 / §2.11: the activation is quantized
// here independently (per row, 128-wide blocks along K, amax floored at 1e-4, scale 2^ceil(log2(
// amax/448)) from frexp, saturating e4m3 RNE), weights are dequantized, and the product is taken
// in double. The kernels accumulate in fp32 and round to bf16, so the tolerance is half a bf16
// ulp of the result (<= 2^-8 relative) plus an fp32 accumulation bound on sum |terms|.
#include "kernels/linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/linear_test_util.h"
#include "kernels/linear_variants.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/test_values.h"

namespace dsv4::kernels {
namespace {

using test_values::random_bf16_values;


// Independent FP8 activation quantization of one row: returns the dequantized values q * s.
std::vector<double> act_quant_dequant(const float* x, int64_t k) {
  std::vector<double> out(k);
  for (int64_t b0 = 0; b0 < k; b0 += 128) {
    const int64_t b1 = std::min<int64_t>(k, b0 + 128);
    float amax = 0.0f;
    for (int64_t i = b0; i < b1; ++i) amax = std::max(amax, std::fabs(x[i]));
    amax = std::max(amax, 1e-4f);
    const float v = amax * (1.0f / 448.0f);  // fp32 multiply by the fp32 reciprocal (§2.11)
    int ex = 0;
    const float mant = std::frexp(v, &ex);   // v = mant * 2^ex, mant in [0.5, 1)
    const int e = mant == 0.5f ? ex - 1 : ex;  // ceil(log2 v)
    const float s = std::ldexp(1.0f, e);
    for (int64_t i = b0; i < b1; ++i) {
      const float scaled = std::clamp(x[i] / s, -448.0f, 448.0f);
      out[i] = static_cast<double>(fp8_e4m3_to_f32(f32_to_fp8_e4m3(scaled))) * s;
    }
  }
  return out;
}

// Checks y[m, n] against ref with |y - ref| <= 2^-8 |ref| + fp32_rel * sumabs (per element).
void expect_close(const std::vector<float>& y, const std::vector<double>& ref, const std::vector<double>& sumabs,
                  double fp32_rel, bool bf16_out) {
  ASSERT_EQ(y.size(), ref.size());
  int checked_nonzero = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double tol = (bf16_out ? std::ldexp(std::fabs(ref[i]), -8) : 0.0) + fp32_rel * sumabs[i] + 1e-30;
    ASSERT_LE(std::fabs(y[i] - ref[i]), tol) << "element " << i << " y=" << y[i] << " ref=" << ref[i];
    if (bf16_out) {
      ASSERT_EQ(y[i], round_bf16(y[i])) << "output not bf16 at " << i;
    }
    checked_nonzero += ref[i] != 0.0;
  }
  EXPECT_GT(checked_nonzero, static_cast<int>(y.size()) / 2);
}

// Reference y = act_quant(x) @ W^T in double, plus sum |terms| per output.
template <typename W>
void reference_quantized(const std::vector<float>& x, int64_t m, int64_t n, int64_t k, const W& w,
                         std::vector<double>& ref, std::vector<double>& sumabs) {
  ref.assign(m * n, 0.0);
  sumabs.assign(m * n, 0.0);
  for (int64_t r = 0; r < m; ++r) {
    const std::vector<double> a = act_quant_dequant(&x[r * k], k);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < k; ++i) {
        const double t = a[i] * w.at(j, i);
        ref[r * n + j] += t;
        sumabs[r * n + j] += std::fabs(t);
      }
  }
}

TEST(LinearFp8, MatchesDequantizeThenMultiplyWithKTail) {
  // K = 300: two full activation/weight blocks and a 44-wide tail; N = 131 crosses a weight-scale
  // row block. Rows with very different magnitudes exercise the per-row activation scales.
  const int64_t m = 5, n = 131, k = 300;
  Fp8Weight w(n, k, 11);
  std::vector<float> x = random_bf16_values(m * k, 1.0f, 12);
  for (int64_t i = 0; i < k; ++i) x[1 * k + i] = round_bf16(x[1 * k + i] * 300.0f);  // saturates without scaling
  for (int64_t i = 0; i < k; ++i) x[2 * k + i] = round_bf16(x[2 * k + i] * 1e-6f);  // below the amax floor
  for (int64_t i = 256; i < k; ++i) x[3 * k + i] = round_bf16(x[3 * k + i] * 50.0f);  // loud tail block only
  std::vector<double> ref, sumabs;
  reference_quantized(x, m, n, k, w, ref, sumabs);
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    std::vector<float> y(m * n);
    v->fp8(x.data(), m, w.m, y.data());
    expect_close(y, ref, sumabs, 2e-6, true);
  }
}

TEST(LinearFp8, ActivationQuantizationIsNotSkipped) {
  // Values that are not on the e4m3 grid: the kernel must round them, so the exact (unquantized)
  // product differs from its output by much more than the bf16 tolerance for some outputs.
  const int64_t m = 2, n = 9, k = 129;
  Fp8Weight w(n, k, 21);
  const std::vector<float> x = random_bf16_values(m * k, 1.0f, 22);
  std::vector<float> y(m * n);
  linear_fp8(x.data(), m, w.m, y.data());  // the selected variant
  double worst = 0.0;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0.0;
      for (int64_t i = 0; i < k; ++i) exact += static_cast<double>(x[r * k + i]) * w.at(j, i);
      worst = std::max(worst, std::fabs(exact - y[r * n + j]) / (std::fabs(exact) + 1e-9));
    }
  EXPECT_GT(worst, 1e-2);
}

TEST(LinearFp4, MatchesDequantizeThenMultiply) {
  // K = 160: five 32-wide weight scale blocks, activation blocks of 128 and 32.
  const int64_t m = 3, n = 7, k = 160;
  Fp4Weight w(n, k, 31);
  std::vector<float> x = random_bf16_values(m * k, 2.0f, 32);
  for (int64_t i = 128; i < k; ++i) x[i] = round_bf16(x[i] * 1000.0f);  // row 0: loud second act block
  std::vector<double> ref, sumabs;
  reference_quantized(x, m, n, k, w, ref, sumabs);
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    std::vector<float> y(m * n);
    v->fp4(x.data(), m, w.m, y.data());
    expect_close(y, ref, sumabs, 2e-6, true);
  }
}

TEST(LinearBf16, MatchesDoubleProductRoundedAndUnrounded) {
  const int64_t m = 4, n = 13, k = 77;
  const std::vector<float> x = random_bf16_values(m * k, 1.0f, 41);
  const std::vector<float> wf = random_bf16_values(n * k, 0.5f, 42);
  std::vector<bf16> w(n * k);
  for (int64_t i = 0; i < n * k; ++i) w[i] = f32_to_bf16(wf[i]);
  std::vector<double> ref(m * n, 0.0), sumabs(m * n, 0.0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < k; ++i) {
        const double t = static_cast<double>(x[r * k + i]) * wf[j * k + i];
        ref[r * n + j] += t;
        sumabs[r * n + j] += std::fabs(t);
      }
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    std::vector<float> y(m * n);
    v->bf16(x.data(), m, w.data(), n, k, y.data(), true);
    expect_close(y, ref, sumabs, 2e-6, true);
    v->bf16(x.data(), m, w.data(), n, k, y.data(), false);
    expect_close(y, ref, sumabs, 2e-6, false);
    // Unrounded output really is fp32: some element is not bf16-representable.
    EXPECT_TRUE(std::any_of(y.begin(), y.end(), [](float e) { return e != round_bf16(e); }));
  }
}

TEST(LinearF32, MatchesDoubleProduct) {
  const int64_t m = 3, n = 24, k = 1001;
  std::mt19937 rng(51);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(m * k), w(n * k);
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng);
  std::vector<double> ref(m * n, 0.0), sumabs(m * n, 0.0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < k; ++i) {
        const double t = static_cast<double>(x[r * k + i]) * w[j * k + i];
        ref[r * n + j] += t;
        sumabs[r * n + j] += std::fabs(t);
      }
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    std::vector<float> y(m * n);
    v->f32(x.data(), m, w.data(), n, k, y.data());
    expect_close(y, ref, sumabs, 1e-5, false);
  }
}

TEST(DequantizeFp8, ExactPerElement) {
  const int64_t n = 130, k = 257;  // three column blocks, two row blocks, both with tails
  Fp8Weight w(n, k, 61);
  std::vector<bf16> out(n * k);
  dequantize_fp8_to_bf16(w.m, out.data());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < k; ++i)
      ASSERT_EQ(static_cast<double>(bf16_to_f32(out[j * k + i])), w.at(j, i)) << j << "," << i;
}

// ---- row independence and thread-count independence -------------------------------------------

// Runs `f(x, m, y)` on all rows at once and one row per call; outputs must be bitwise equal.
template <typename F>
void expect_row_independent(const std::vector<float>& x, int64_t m, int64_t k, int64_t n, F f) {
  std::vector<float> all(m * n), one(m * n);
  f(x.data(), m, all.data());
  for (int64_t r = 0; r < m; ++r) f(&x[r * k], 1, &one[r * n]);
  EXPECT_EQ(0, std::memcmp(all.data(), one.data(), all.size() * sizeof(float)));
}

// Sizes large enough (m*n*k > 2^22) that the kernels take their parallel path.
constexpr int64_t kBigM = 17, kBigN = 520, kBigK = 544;

TEST(LinearRows, EveryLinearIsRowIndependent) {
  const std::vector<float> x = random_bf16_values(kBigM * kBigK, 1.0f, 71);
  Fp8Weight w8(kBigN, kBigK, 72);
  Fp4Weight w4(kBigN, kBigK, 73);
  const std::vector<float> wf = random_bf16_values(kBigN * kBigK, 0.1f, 74);
  std::vector<bf16> wb(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) wb[i] = f32_to_bf16(wf[i]);
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    expect_row_independent(x, kBigM, kBigK, kBigN,
                           [&](const float* a, int64_t m, float* y) { v->fp8(a, m, w8.m, y); });
    expect_row_independent(x, kBigM, kBigK, kBigN,
                           [&](const float* a, int64_t m, float* y) { v->fp4(a, m, w4.m, y); });
    for (bool round_out : {true, false})
      expect_row_independent(x, kBigM, kBigK, kBigN, [&](const float* a, int64_t m, float* y) {
        v->bf16(a, m, wb.data(), kBigN, kBigK, y, round_out);
      });
    expect_row_independent(x, kBigM, kBigK, kBigN,
                           [&](const float* a, int64_t m, float* y) { v->f32(a, m, wf.data(), kBigN, kBigK, y); });
  }
}

TEST(LinearThreads, ThreadCountDoesNotChangeResults) {
  const std::vector<float> x = random_bf16_values(kBigM * kBigK, 1.0f, 81);
  Fp8Weight w8(kBigN, kBigK, 82);
  Fp4Weight w4(kBigN, kBigK, 83);
  const std::vector<float> wf = random_bf16_values(kBigN * kBigK, 0.1f, 84);
  std::vector<bf16> wb(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) wb[i] = f32_to_bf16(wf[i]);
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    auto run_all = [&] {
      std::vector<float> y(4 * kBigM * kBigN);
      v->fp8(x.data(), kBigM, w8.m, &y[0]);
      v->fp4(x.data(), kBigM, w4.m, &y[kBigM * kBigN]);
      v->bf16(x.data(), kBigM, wb.data(), kBigN, kBigK, &y[2 * kBigM * kBigN], true);
      v->f32(x.data(), kBigM, wf.data(), kBigN, kBigK, &y[3 * kBigM * kBigN]);
      return y;
    };
    set_num_threads(1);
    const std::vector<float> one = run_all();
    set_num_threads(2);
    const std::vector<float> two = run_all();
    set_num_threads(3);
    const std::vector<float> three = run_all();
    set_num_threads(0);
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(one.data(), three.data(), one.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace dsv4::kernels

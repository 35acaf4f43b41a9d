// The SIMD linear tiers (avx2, avx512) against
//   * a plain fp32 emulation of the canonical order of linear_simd_impl.h: bitwise equal;
//   * the scalar reference: within the fp32 summation-order bound, then at most one bf16 ulp;
//   * each other: bitwise equal (when the CPU has both tiers);
//   * themselves with other row counts (m = 1, 7, 64) and thread counts (1, 2, 3): bitwise equal.
// Tiers this CPU lacks are skipped (test_variants()).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/act_quant.h"
#include "kernels/linear_test_util.h"
#include "tensor/ggml_quants.h"
#include "tensor/test_values.h"

namespace dsv4::kernels {
namespace {

using test_values::random_bf16_values;

constexpr int kLanes = 16;
constexpr double kU = 0x1p-24;  // fp32 unit roundoff

std::vector<const LinearVariant*> simd_variants() {
  std::vector<const LinearVariant*> v;
  for (const LinearVariant* lv : test_variants())
    if (std::string(lv->name) != "scalar") v.push_back(lv);
  return v;
}

// The canonical lane tree: l + (l+8), + (l+4), + (l+2), + (l+1).
float tree16(const float* acc) {
  float s8[8], s4[4], s2[2];
  for (int l = 0; l < 8; ++l) s8[l] = acc[l] + acc[l + 8];
  for (int l = 0; l < 4; ++l) s4[l] = s8[l] + s8[l + 4];
  for (int l = 0; l < 2; ++l) s2[l] = s4[l] + s4[l + 2];
  return s2[0] + s2[1];
}

// ---- plain emulations of the canonical order (one output at a time, std::fma) --------------

std::vector<float> emulate_fp8(const std::vector<float>& x, int64_t m, const Fp8Weight& w) {
  const int64_t n = w.m.rows, k = w.m.cols, kb = (k + 127) / 128;
  const QuantizedRows q = quantize_rows(x.data(), m, k);
  std::vector<float> y(m * n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc[kLanes] = {};
      for (int64_t b = 0; b < kb; ++b) {
        float p[kLanes] = {};
        for (int64_t kk = b * 128; kk < std::min(k, b * 128 + 128); kk += kLanes)
          for (int l = 0; l < kLanes; ++l) {
            const int64_t i = kk + l;
            const float a = i < k ? q.vals[r * k + i] : 0.0f;
            const float wv = i < k ? fp8_e4m3_to_f32(w.codes[j * k + i]) : 0.0f;
            p[l] = std::fma(a, wv, p[l]);
          }
        const float s = q.scales[r * q.n_blocks + b] * ue8m0_to_f32(w.scales[(j / 128) * kb + b]);
        for (int l = 0; l < kLanes; ++l) acc[l] = std::fma(p[l], s, acc[l]);
      }
      y[r * n + j] = round_bf16(tree16(acc));
    }
  return y;
}

std::vector<float> emulate_fp4(const std::vector<float>& x, int64_t m, const Fp4Weight& w) {
  const int64_t n = w.m.rows, k = w.m.cols, sb = k / 32;
  const QuantizedRows q = quantize_rows(x.data(), m, k);
  std::vector<float> y(m * n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc[kLanes] = {};
      for (int64_t s = 0; s < sb; ++s) {
        const float sc = q.scales[r * q.n_blocks + s / 4] * ue8m0_to_f32(w.scales[j * sb + s]);
        for (int l = 0; l < kLanes; ++l) {
          const int64_t ie = s * 32 + 2 * l, io = ie + 1;
          const float we = static_cast<float>(w.at(j, ie) / ue8m0(w.scales[j * sb + s]));
          const float wo = static_cast<float>(w.at(j, io) / ue8m0(w.scales[j * sb + s]));
          const float t = std::fma(q.vals[r * k + io], wo, q.vals[r * k + ie] * we);
          acc[l] = std::fma(t, sc, acc[l]);
        }
      }
      y[r * n + j] = round_bf16(tree16(acc));
    }
  return y;
}

template <typename W>
std::vector<float> emulate_dense(const std::vector<float>& x, int64_t m, const W* w, int64_t n, int64_t k,
                                 bool round_out) {
  std::vector<float> y(m * n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc[kLanes] = {};
      for (int64_t kk = 0; kk < k; kk += kLanes)
        for (int l = 0; l < kLanes; ++l) {
          const int64_t i = kk + l;
          float wv = 0.0f;
          if (i < k) {
            if constexpr (std::is_same_v<W, bf16>) wv = bf16_to_f32(w[j * k + i]);
            else wv = w[j * k + i];
          }
          acc[l] = std::fma(i < k ? x[r * k + i] : 0.0f, wv, acc[l]);
        }
      const float v = tree16(acc);
      y[r * n + j] = round_out ? round_bf16(v) : v;
    }
  return y;
}

void expect_bitwise(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i]))
        << what << ": element " << i << " " << a[i] << " vs " << b[i];
}

std::vector<bf16> to_bf16(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}

// Shapes: K tails (FP8: not a multiple of 128 or 16; bf16/f32: not a multiple of 16), N tails
// (not a multiple of the column tiles 2 / 4, crossing a 128-row scale block), m = 1 (GEMV) and
// m > 1 (GEMM with a row-tile tail).
struct Shape {
  int64_t m, n, k;
};
const Shape kFp8Shapes[] = {{1, 131, 300}, {5, 131, 300}, {3, 7, 128}, {1, 5, 7}, {6, 130, 257}};
const Shape kFp4Shapes[] = {{1, 131, 160}, {5, 9, 160}, {1, 3, 32}, {7, 130, 288}};
const Shape kDenseShapes[] = {{1, 131, 77}, {5, 13, 77}, {1, 3, 5}, {6, 33, 1001}, {3, 4, 16}};

// A GGUF file's MXFP4 experts are read in place (Fp4Matrix::mxfp4): the same codes and scales in
// ggml's block layout must give bitwise the checkpoint layout's results, on every variant (the
// scalar reference included), for GEMV and GEMM, with sub-block counts past 16 and extreme scales.
TEST(LinearSimd, Mxfp4LayoutIsBitwiseTheCheckpointLayout) {
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    for (const Shape& s : {Shape{1, 131, 160}, Shape{5, 9, 160}, Shape{1, 3, 32}, Shape{7, 130, 288},
                           Shape{1, 5, 32 * 19}, Shape{3, 5, 32 * 19}}) {
      Fp4Weight w(s.n, s.k, 109);
      for (size_t i = 0; i < w.scales.size(); ++i) w.scales[i] = (i % 7 == 0) ? 0 : (i % 11 == 0) ? 240 : w.scales[i];
      const int64_t sb = s.k / 32;
      std::vector<uint8_t> mx(s.n * sb * kMxfp4BlockBytes);
      for (int64_t r = 0; r < s.n; ++r)
        fp4_row_to_mxfp4(&w.packed[r * s.k / 2], &w.scales[r * sb], s.k, &mx[r * sb * kMxfp4BlockBytes]);
      Fp4Matrix m{mx.data(), nullptr, s.n, s.k, true};
      const std::vector<float> x = random_bf16_values(s.m * s.k, 1.0f, 110);
      std::vector<float> y_ck(s.m * s.n), y_mx(s.m * s.n);
      v->fp4(x.data(), s.m, w.m, y_ck.data());
      v->fp4(x.data(), s.m, m, y_mx.data());
      expect_bitwise(y_mx, y_ck, "mxfp4 k=" + std::to_string(s.k) + " m=" + std::to_string(s.m));
    }
  }
}

TEST(LinearSimd, MatchesCanonicalOrderEmulationBitwise) {
  for (const LinearVariant* v : simd_variants()) {
    SCOPED_TRACE(v->name);
    for (const Shape& s : kFp8Shapes) {
      Fp8Weight w(s.n, s.k, 101);
      const std::vector<float> x = random_bf16_values(s.m * s.k, 1.0f, 102);
      std::vector<float> y(s.m * s.n);
      v->fp8(x.data(), s.m, w.m, y.data());
      expect_bitwise(y, emulate_fp8(x, s.m, w), "fp8 k=" + std::to_string(s.k));
    }
    for (const Shape& s : kFp4Shapes) {
      Fp4Weight w(s.n, s.k, 103);
      const std::vector<float> x = random_bf16_values(s.m * s.k, 1.0f, 104);
      std::vector<float> y(s.m * s.n);
      v->fp4(x.data(), s.m, w.m, y.data());
      expect_bitwise(y, emulate_fp4(x, s.m, w), "fp4 k=" + std::to_string(s.k));
    }
    {  // Extreme UE8M0 exponents (0 = 2^-127: products underflow; 240) and sub-block counts that
       // are not multiples of 16 (the GEMV converts the scales 16 at a time).
      Fp4Weight w(5, 32 * 19, 107);
      for (size_t i = 0; i < w.scales.size(); ++i) w.scales[i] = (i % 7 == 0) ? 0 : (i % 11 == 0) ? 240 : w.scales[i];
      const std::vector<float> x = random_bf16_values(2 * 32 * 19, 1e-3f, 108);
      for (int64_t m : {1, 2}) {
        std::vector<float> y(m * 5);
        v->fp4(x.data(), m, w.m, y.data());
        expect_bitwise(y, emulate_fp4(x, m, w), "fp4 extreme scales");
      }
    }
    for (const Shape& s : kDenseShapes) {
      const std::vector<float> x = random_bf16_values(s.m * s.k, 1.0f, 105);
      const std::vector<float> wf = random_bf16_values(s.n * s.k, 0.5f, 106);
      const std::vector<bf16> wb = to_bf16(wf);
      std::vector<float> y(s.m * s.n);
      for (bool round_out : {true, false}) {
        v->bf16(x.data(), s.m, wb.data(), s.n, s.k, y.data(), round_out);
        expect_bitwise(y, emulate_dense(x, s.m, wb.data(), s.n, s.k, round_out), "bf16 k=" + std::to_string(s.k));
      }
      v->f32(x.data(), s.m, wf.data(), s.n, s.k, y.data());
      expect_bitwise(y, emulate_dense(x, s.m, wf.data(), s.n, s.k, false), "f32 k=" + std::to_string(s.k));
    }
  }
}

// ---- parity with the scalar reference ----------------------------------------------------------
//
// Both orders sum the same terms t_i in fp32. A sum in a tree of depth d (each term passes through
// at most d roundings) is off the exact sum by at most about d * u * sum|t_i| (u = 2^-24, first
// order). Depths:
//   FP8  scalar: 127 (within a 128-block) + kb (accumulator);   simd: 8 + kb + 4 (lane, acc, tree)
//   FP4  scalar: 31 + sb;                                      simd: 1 + sb + 4
//   bf16 scalar: K - 1, plus 1 for the rounded product;        simd: ceil(K/16) + 4 (fused)
// (FP8 / FP4 products are exact: e4m3 x e4m3 and e4m3 x e2m1 need at most 8 significant bits.)
// So |simd - scalar| <= (d_scalar + d_simd) * u * sum|t| before rounding; after rounding to bf16 at
// most that plus one bf16 ulp of the larger magnitude.
void expect_parity(const std::vector<float>& simd, const std::vector<float>& scalar, const std::vector<double>& sumabs,
                   double depth, bool rounded, const std::string& what) {
  int64_t equal = 0;
  for (size_t i = 0; i < simd.size(); ++i) {
    const double mag = std::max(std::fabs(simd[i]), std::fabs(scalar[i]));
    const double ulp = rounded && mag > 0 ? std::ldexp(1.0, std::ilogb(mag) - 7) : 0.0;
    const double tol = depth * kU * sumabs[i] + ulp;
    ASSERT_LE(std::fabs(static_cast<double>(simd[i]) - scalar[i]), tol)
        << what << ": element " << i << " simd " << simd[i] << " scalar " << scalar[i];
    equal += simd[i] == scalar[i];
  }
  // Most outputs agree exactly after rounding: a wrong order or a wrong scale would not.
  if (rounded) {
    EXPECT_GT(equal, static_cast<int64_t>(simd.size() * 3 / 4)) << what;
  }
}

TEST(LinearSimd, ScalarParityWithinSummationOrderBound) {
  const LinearVariant* scalar = linear_variant(CpuTier::kScalar);
  ASSERT_NE(scalar, nullptr);
  for (const LinearVariant* v : simd_variants()) {
    SCOPED_TRACE(v->name);
    {
      const int64_t m = 9, n = 150, k = 1100, kb = (k + 127) / 128;
      Fp8Weight w(n, k, 111);
      const std::vector<float> x = random_bf16_values(m * k, 1.0f, 112);
      std::vector<float> ys(m * n), yv(m * n);
      scalar->fp8(x.data(), m, w.m, ys.data());
      v->fp8(x.data(), m, w.m, yv.data());
      const QuantizedRows q = quantize_rows(x.data(), m, k);
      std::vector<double> sumabs(m * n, 0.0);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < k; ++i)
            sumabs[r * n + j] += std::fabs(q.vals[r * k + i] * q.scales[r * q.n_blocks + i / 128] * w.at(j, i));
      expect_parity(yv, ys, sumabs, (127 + kb) + (8 + kb + 4), true, "fp8");
    }
    {
      const int64_t m = 9, n = 150, k = 1024, sb = k / 32;
      Fp4Weight w(n, k, 113);
      const std::vector<float> x = random_bf16_values(m * k, 1.0f, 114);
      std::vector<float> ys(m * n), yv(m * n);
      scalar->fp4(x.data(), m, w.m, ys.data());
      v->fp4(x.data(), m, w.m, yv.data());
      const QuantizedRows q = quantize_rows(x.data(), m, k);
      std::vector<double> sumabs(m * n, 0.0);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < k; ++i)
            sumabs[r * n + j] += std::fabs(q.vals[r * k + i] * q.scales[r * q.n_blocks + i / 128] * w.at(j, i));
      expect_parity(yv, ys, sumabs, (31 + sb) + (1 + sb + 4), true, "fp4");
    }
    {
      const int64_t m = 9, n = 150, k = 1001;
      const std::vector<float> x = random_bf16_values(m * k, 1.0f, 115);
      const std::vector<float> wf = random_bf16_values(n * k, 0.5f, 116);
      const std::vector<bf16> wb = to_bf16(wf);
      std::vector<double> sumabs(m * n, 0.0);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < k; ++i) sumabs[r * n + j] += std::fabs(double(x[r * k + i]) * wf[j * k + i]);
      const double depth = k + (k + 15) / 16 + 4;
      std::vector<float> ys(m * n), yv(m * n);
      for (bool round_out : {true, false}) {
        scalar->bf16(x.data(), m, wb.data(), n, k, ys.data(), round_out);
        v->bf16(x.data(), m, wb.data(), n, k, yv.data(), round_out);
        expect_parity(yv, ys, sumabs, depth, round_out, "bf16");
      }
      scalar->f32(x.data(), m, wf.data(), n, k, ys.data());
      v->f32(x.data(), m, wf.data(), n, k, yv.data());
      expect_parity(yv, ys, sumabs, depth, false, "f32");
    }
  }
}

// ---- invariance: tiers, row counts, thread counts ---------------------------------------------

// All four linears of one variant on fixed inputs, rows [r0, r0 + m) of x, as one flat vector.
struct Problem {
  int64_t n, k;
  std::vector<float> x;
  Fp8Weight w8;
  Fp4Weight w4;
  std::vector<float> wf;
  std::vector<bf16> wb;
  Problem(int64_t rows, int64_t n_, int64_t k_, uint32_t seed)
      : n(n_), k(k_), x(random_bf16_values(rows * k_, 1.0f, seed)), w8(n_, k_, seed + 1), w4(n_, k_, seed + 2),
        wf(random_bf16_values(n_ * k_, 0.1f, seed + 3)), wb(to_bf16(wf)) {}
  std::vector<float> run(const LinearVariant& v, int64_t r0, int64_t m) const {
    std::vector<float> y(6 * m * n);
    const float* xr = &x[r0 * k];
    v.fp8(xr, m, w8.m, &y[0]);
    v.fp4(xr, m, w4.m, &y[m * n]);
    v.bf16(xr, m, wb.data(), n, k, &y[2 * m * n], true);
    v.bf16(xr, m, wb.data(), n, k, &y[3 * m * n], false);
    v.f32(xr, m, wf.data(), n, k, &y[4 * m * n]);
    v.fp8_dequant(xr, m, w8.m, 0, n, &y[5 * m * n], true);
    return y;
  }
};

// Output rows [r0, r0 + m) of the six results computed for all rows, for comparison with a call on
// those rows alone.
std::vector<float> slice(const std::vector<float>& all, int64_t rows, int64_t n, int64_t r0, int64_t m) {
  std::vector<float> out;
  for (int f = 0; f < 6; ++f)
    out.insert(out.end(), all.begin() + f * rows * n + r0 * n, all.begin() + f * rows * n + (r0 + m) * n);
  return out;
}

TEST(LinearSimd, RowCountDoesNotChangeResults) {
  const int64_t rows = 64;
  const Problem p(rows, 37, 416, 121);  // K = 3.25 FP8 blocks; N not a multiple of any tile
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    const std::vector<float> all = p.run(*v, 0, rows);
    for (int64_t r = 0; r < rows; ++r) expect_bitwise(p.run(*v, r, 1), slice(all, rows, p.n, r, 1), "m=1");
    for (int64_t r = 0; r + 7 <= rows; r += 7) expect_bitwise(p.run(*v, r, 7), slice(all, rows, p.n, r, 7), "m=7");
  }
}

TEST(LinearSimd, ThreadCountDoesNotChangeGemvOrGemm) {
  // GEMV: n * k above the parallel threshold; n = 2103 splits at 701 and 1402 over 3 threads (not
  // multiples of the column tiles). GEMM: m = 3.
  const Problem p(3, 2103, 2048, 131);
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    std::vector<std::vector<float>> gemv, gemm;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      gemv.push_back(p.run(*v, 0, 1));
      gemm.push_back(p.run(*v, 0, 3));
    }
    set_num_threads(0);
    for (int t = 1; t < 3; ++t) {
      expect_bitwise(gemv[t], gemv[0], "gemv threads");
      expect_bitwise(gemm[t], gemm[0], "gemm threads");
    }
    expect_bitwise(gemv[0], slice(gemm[0], 3, p.n, 0, 1), "gemv vs gemm row 0");
  }
}

// linear_fp8_dequant is the bf16 linear over the dequantized matrix, bitwise, on every tier: rows
// starting inside a scale block (row0 = 37, 133), K with a partial scale block and a partial
// vector, GEMV and GEMM (several row tiles plus a remainder), with and without bf16 output.
TEST(LinearSimd, Fp8DequantIsTheBf16LinearOverTheDequantizedRows) {
  const int64_t n = 300, k = 424;
  const Fp8Weight w(n, k, 151);
  std::vector<bf16> wb(static_cast<size_t>(n * k));
  dequantize_fp8_to_bf16(w.m, wb.data());
  const std::vector<float> x = random_bf16_values(9 * k, 1.0f, 152);
  for (const LinearVariant* v : test_variants()) {
    SCOPED_TRACE(v->name);
    for (int64_t row0 : {0, 37, 133})
      for (int64_t m : {1, 2, 9})
        for (bool round_out : {true, false}) {
          const int64_t rows = n - row0 - 11;
          std::vector<float> got(m * rows), want(m * rows);
          v->fp8_dequant(x.data(), m, w.m, row0, rows, got.data(), round_out);
          v->bf16(x.data(), m, &wb[row0 * k], rows, k, want.data(), round_out);
          expect_bitwise(got, want, "fp8_dequant vs bf16 over dequantized rows");
        }
  }
  // The public entry point is the selected variant's.
  std::vector<float> got(2 * 50), want(2 * 50);
  linear_fp8_dequant(x.data(), 2, w.m, 64, 50, got.data(), true);
  linear_bf16(x.data(), 2, &wb[64 * k], 50, k, want.data(), true);
  expect_bitwise(got, want, "public linear_fp8_dequant");
}

TEST(LinearSimd, Avx2AndAvx512AgreeBitwise) {
  const LinearVariant* a = linear_variant(CpuTier::kAvx2);
  const LinearVariant* b = linear_variant(CpuTier::kAvx512);
  if (!a || !b) GTEST_SKIP() << "needs both the avx2 and the avx512 tier on this CPU";
  for (int64_t m : {1, 5}) {
    const Problem p(m, 131, 300 - 300 % 32, 141);  // FP4 needs K % 32 == 0: K = 288
    expect_bitwise(p.run(*a, 0, m), p.run(*b, 0, m), "avx2 vs avx512");
  }
  const Problem q(2, 9, 1088, 142);
  expect_bitwise(q.run(*a, 0, 2), q.run(*b, 0, 2), "avx2 vs avx512");
}

}  // namespace
}  // namespace dsv4::kernels

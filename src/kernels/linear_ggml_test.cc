// linear_ggml over every supported ggml type, on random valid blocks (random code bytes with
// finite, moderate scales written byte-wise):
//   * SIMD decoding is bitwise the reference decoder (identity activations read the weights back);
//   * the scalar reference is within the fp32 sequential-sum bound of an exact (double) dot;
//   * each SIMD tier is within the summation-order bound of the scalar reference;
//   * AVX2 and AVX-512 agree bitwise (when the CPU has both);
//   * results do not depend on m or on the thread count (bitwise), round_out is round_bf16;
//   * against llama.cpp's own dequantized values (GgmlRefParity, fixture from ggml_ref_test.sh).
// Tiers this CPU lacks are skipped.
#include "kernels/linear_ggml.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "tensor/bf16.h"
#include "tensor/ggml_quants.h"
#include "tensor/ggml_ref_fixture.h"

namespace dsv4::kernels {
namespace {

constexpr double kU = 0x1p-24;  // fp32 unit roundoff

const GgmlType kTypes[] = {GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ2_K, GgmlType::kIQ2_XXS,
                           GgmlType::kMXFP4, GgmlType::kF16, GgmlType::kBF16, GgmlType::kF32,
                           GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1};

// A K that is a few blocks (dense types: not a multiple of 16, to exercise the tail).
int64_t k_for(GgmlType t) {
  const int64_t be = ggml_info(t).block_elems;
  return be == 1 ? 100 : be == 32 ? 160 : 512;
}

void put_f16(uint8_t* p, float v) {
  const f16 h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// n rows of K random valid values: code bytes uniform, scale fields finite (sign included where
// the format allows one) so that the weights are O(1).
struct RandomWeight {
  std::vector<uint8_t> bytes;
  GgmlMatrix m;
  RandomWeight(GgmlType t, int64_t n, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const GgmlTypeInfo info = ggml_info(t);
    const uint64_t rb = *ggml_row_bytes(t, k);
    bytes.resize(n * rb);
    for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
    for (int64_t i = 0; i < n * k / info.block_elems; ++i) {
      uint8_t* blk = bytes.data() + i * info.block_bytes;
      switch (t) {
        case GgmlType::kF32: { const float v = nd(rng); std::memcpy(blk, &v, 4); break; }
        case GgmlType::kF16: put_f16(blk, nd(rng)); break;
        case GgmlType::kBF16: { const bf16 h = f32_to_bf16(nd(rng)); std::memcpy(blk, &h, 2); break; }
        case GgmlType::kQ8_0: put_f16(blk, nd(rng) / 64); break;
        case GgmlType::kMXFP4: blk[0] = static_cast<uint8_t>(124 + byte(rng) % 6); break;
        case GgmlType::kQ4_K: put_f16(blk, nd(rng) / 256); put_f16(blk + 2, nd(rng) / 64); break;
        case GgmlType::kQ6_K: put_f16(blk + 208, nd(rng) / 2048); break;
        case GgmlType::kQ2_K: put_f16(blk + 80, nd(rng) / 16); put_f16(blk + 82, nd(rng) / 16); break;
        case GgmlType::kIQ2_XXS: put_f16(blk, nd(rng) / 64); break;
        case GgmlType::kQ4_0: case GgmlType::kQ5_0: put_f16(blk, nd(rng) / 16); break;
        case GgmlType::kQ4_1: case GgmlType::kQ5_1: put_f16(blk, nd(rng) / 16); put_f16(blk + 2, nd(rng)); break;
        default: ADD_FAILURE() << "no generator";
      }
    }
    m = {t, bytes.data(), n, k, rb};
  }
  std::vector<float> decoded() const {
    std::vector<float> w(m.rows * m.cols);
    for (int64_t j = 0; j < m.rows; ++j)
      EXPECT_TRUE(dequantize_ggml_row(m.type, m.data + j * m.row_bytes, w.data() + j * m.cols, m.cols));
    return w;
  }
};

std::vector<float> random_acts(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = nd(rng);
  return v;
}

std::vector<float> run(const GgmlLinearVariant& v, const std::vector<float>& x, int64_t m, const GgmlMatrix& w,
                       bool round_out = false) {
  std::vector<float> y(m * w.rows, -1.0f);
  v.run(x.data(), m, w, y.data(), round_out);
  return y;
}

std::vector<const GgmlLinearVariant*> variants() {
  std::vector<const GgmlLinearVariant*> v;
  for (CpuTier t : {CpuTier::kScalar, CpuTier::kAvx2, CpuTier::kAvx512})
    if (const GgmlLinearVariant* lv = linear_ggml_variant(t)) v.push_back(lv);
  return v;
}

void expect_bitwise(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i]) && bad++ < 5)
      ADD_FAILURE() << what << " [" << i << "]: " << a[i] << " vs " << b[i];
}

TEST(LinearGgml, SupportsTheQuantTypes) {
  for (GgmlType t : kTypes) EXPECT_TRUE(linear_ggml_supported(t)) << ggml_type_name(t);
  EXPECT_FALSE(linear_ggml_supported(GgmlType::kQ5_K));
}

// x = identity (m = K, GEMM path) and single one-hot rows (m = 1, GEMV path): y[r][j] = w[j][r]
// exactly (+0 for -0: the sum starts at +0), so the SIMD decoders are bitwise the reference.
TEST(LinearGgml, SimdDecodingIsBitwiseTheReference) {
  for (const GgmlLinearVariant* v : variants()) {
    for (GgmlType t : kTypes) {
      SCOPED_TRACE(std::string(v->name) + " " + std::string(ggml_type_name(t)));
      const int64_t k = k_for(t), n = 7;
      const RandomWeight w(t, n, k, 11);
      const std::vector<float> wd = w.decoded();
      std::vector<float> eye(k * k, 0.0f);
      for (int64_t i = 0; i < k; ++i) eye[i * k + i] = 1.0f;
      std::vector<float> want(k * n);
      for (int64_t r = 0; r < k; ++r)
        for (int64_t j = 0; j < n; ++j) want[r * n + j] = wd[j * k + r] + 0.0f;
      expect_bitwise(run(*v, eye, k, w.m), want, "identity");
      for (int64_t r : {int64_t{0}, k / 2 + 1, k - 1}) {
        const std::vector<float> one(eye.begin() + r * k, eye.begin() + (r + 1) * k);
        expect_bitwise(run(*v, one, 1, w.m), std::vector<float>(want.begin() + r * n, want.begin() + (r + 1) * n),
                       "one-hot");
      }
    }
  }
}

// Scalar vs exact, and every variant vs scalar, within the summation bounds: the sequential sum
// errs by <= K u sum|x w|, the 16-lane order by <= (K/16 + 5) u sum|x w| (exact FMA products).
TEST(LinearGgml, VariantsAgreeWithinSummationBound) {
  for (GgmlType t : kTypes) {
    const int64_t k = k_for(t), n = 37;
    const RandomWeight w(t, n, k, 21);
    const std::vector<float> wd = w.decoded();
    for (int64_t m : {1, 3, 17}) {
      SCOPED_TRACE(std::string(ggml_type_name(t)) + " m=" + std::to_string(m));
      const std::vector<float> x = random_acts(m * k, 31 + static_cast<uint32_t>(m));
      const std::vector<float> ref = run(*linear_ggml_variant(CpuTier::kScalar), x, m, w.m);
      for (const GgmlLinearVariant* v : variants()) {
        const std::vector<float> y = run(*v, x, m, w.m);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t j = 0; j < n; ++j) {
            double exact = 0, mag = 0;
            for (int64_t i = 0; i < k; ++i) {
              exact += double(x[r * k + i]) * wd[j * k + i];
              mag += std::fabs(double(x[r * k + i]) * wd[j * k + i]);
            }
            const double bound_ref = k * kU * mag * 1.0001 + 1e-30;
            const double bound_simd = (k / 16 + 5) * kU * mag * 1.0001 + 1e-30;
            EXPECT_LE(std::fabs(ref[r * n + j] - exact), bound_ref) << r << "," << j;
            EXPECT_LE(std::fabs(double(y[r * n + j]) - ref[r * n + j]), bound_ref + bound_simd)
                << v->name << " " << r << "," << j;
          }
      }
    }
  }
}

TEST(LinearGgml, Avx2AndAvx512AgreeBitwise) {
  const GgmlLinearVariant* a2 = linear_ggml_variant(CpuTier::kAvx2);
  const GgmlLinearVariant* a5 = linear_ggml_variant(CpuTier::kAvx512);
  if (!a2 || !a5) GTEST_SKIP() << "this CPU lacks AVX2 or AVX-512";
  for (GgmlType t : kTypes)
    for (int64_t m : {1, 3, 17}) {
      SCOPED_TRACE(std::string(ggml_type_name(t)) + " m=" + std::to_string(m));
      const int64_t k = k_for(t);
      const RandomWeight w(t, 37, k, 41);
      const std::vector<float> x = random_acts(m * k, 43);
      expect_bitwise(run(*a2, x, m, w.m), run(*a5, x, m, w.m), "avx2 vs avx512");
      expect_bitwise(run(*a2, x, m, w.m, true), run(*a5, x, m, w.m, true), "avx2 vs avx512 (bf16)");
    }
}

// A row alone (m = 1) is bitwise the same row inside bigger calls, on 1 or 3 threads (N large
// enough that the call goes to the pool), and round_out is round_bf16 of the fp32 result.
TEST(LinearGgml, IndependentOfBatchThreadsAndRounding) {
  const int threads0 = num_threads();
  for (const GgmlLinearVariant* v : variants())
    for (GgmlType t : kTypes) {
      SCOPED_TRACE(std::string(v->name) + " " + std::string(ggml_type_name(t)));
      const int64_t k = k_for(t), n = 601, m = 17;
      const RandomWeight w(t, n, k, 51);
      const std::vector<float> x = random_acts(m * k, 53);
      set_num_threads(1);
      const std::vector<float> y1 = run(*v, x, m, w.m);
      set_num_threads(3);
      const std::vector<float> y3 = run(*v, x, m, w.m);
      expect_bitwise(y1, y3, "1 vs 3 threads");
      const std::vector<float> y3b = run(*v, x, 3, w.m);
      expect_bitwise(y3b, std::vector<float>(y1.begin(), y1.begin() + 3 * n), "m=3 vs m=17");
      for (int64_t r : {int64_t{0}, int64_t{7}, m - 1}) {
        const std::vector<float> xr(x.begin() + r * k, x.begin() + (r + 1) * k);
        expect_bitwise(run(*v, xr, 1, w.m), std::vector<float>(y1.begin() + r * n, y1.begin() + (r + 1) * n),
                       "row alone vs in batch");
      }
      std::vector<float> rounded = y3;
      for (float& f : rounded) f = round_bf16(f);
      expect_bitwise(run(*v, x, m, w.m, true), rounded, "round_out");
    }
  set_num_threads(threads0);
}

// linear_ggml (the selected variant) on rows quantized by llama.cpp's ggml, against a double dot
// over ggml's own dequantized values (fixture from tests/llamacpp/ggml_ref_test.sh).
TEST(GgmlRefParity, LinearMatchesDotOverGgmlValues) {
  const char* path = std::getenv("DSV4_GGML_REF_FIXTURE");
  if (!path || !*path) GTEST_SKIP() << "DSV4_GGML_REF_FIXTURE not set (tests/llamacpp/ggml_ref_test.sh sets it)";
  std::string err;
  const std::vector<ggml_ref::Record> recs = ggml_ref::read_fixture(path, &err);
  ASSERT_FALSE(recs.empty()) << err;
  for (const ggml_ref::Record& rec : recs) {
    SCOPED_TRACE(std::string(ggml_type_name(rec.type)) + " via " + selected_linear_ggml_variant().name);
    const GgmlMatrix w{rec.type, rec.raw.data(), rec.rows, rec.cols, static_cast<uint64_t>(rec.row_bytes)};
    const int64_t m = 3, k = rec.cols, n = rec.rows;
    const std::vector<float> x = random_acts(m * k, 61);
    std::vector<float> y(m * n);
    linear_ggml(x.data(), m, w, y.data(), false);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double exact = 0, mag = 0;
        for (int64_t i = 0; i < k; ++i) {
          const double p = double(x[r * k + i]) * rec.values[j * k + i];
          exact += p;
          mag += std::fabs(p);
        }
        EXPECT_LE(std::fabs(y[r * n + j] - exact), k * kU * mag * 1.0001 + 1e-30) << r << "," << j;
      }
  }
}

}  // namespace
}  // namespace dsv4::kernels

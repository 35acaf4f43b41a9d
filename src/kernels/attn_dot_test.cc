// bf16_row_dots: the selected tier's order (canonical 16-lane order on avx2/avx512, sequential on
// scalar) bitwise, null rows skipped, rows copied exactly, each dot independent of the others.
// Run with DSV4_FORCE_CPU=scalar|avx2 to cover the other tiers.
#include "kernels/attn_dot.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "base/cpu_features.h"
#include "tensor/test_values.h"

namespace dsv4::kernels {
namespace {

float canonical_dot(const float* q, const bf16* r, int64_t dim) {
  float acc[16] = {};
  for (int64_t kk = 0; kk < dim; kk += 16)
    for (int l = 0; l < 16; ++l) {
      const int64_t i = kk + l;
      acc[l] = std::fma(i < dim ? q[i] : 0.0f, i < dim ? bf16_to_f32(r[i]) : 0.0f, acc[l]);
    }
  float s8[8], s4[4], s2[2];
  for (int l = 0; l < 8; ++l) s8[l] = acc[l] + acc[l + 8];
  for (int l = 0; l < 4; ++l) s4[l] = s8[l] + s8[l + 4];
  for (int l = 0; l < 2; ++l) s2[l] = s4[l] + s4[l + 2];
  return s2[0] + s2[1];
}

TEST(Bf16RowDots, SelectedTierOrderNullRowsAndRowCopies) {
  const bool simd = cpu_features().tier != CpuTier::kScalar;
  for (int64_t dim : {512, 128, 77, 5}) {
    const int64_t n = 9;
    const std::vector<float> q = test_values::random_bf16_values(dim, 1.0f, 1);
    const std::vector<float> kv = test_values::random_bf16_values(n * dim, 1.0f, 2);
    std::vector<bf16> store(n * dim);
    for (size_t i = 0; i < store.size(); ++i) store[i] = f32_to_bf16(kv[i]);
    std::vector<const bf16*> rows(n);
    for (int64_t j = 0; j < n; ++j) rows[j] = (j == 3) ? nullptr : &store[j * dim];
    std::vector<float> out(n, -7.0f), copy(n * dim, -7.0f), scalar_out(n, -7.0f);
    bf16_row_dots(q.data(), rows.data(), n, dim, out.data(), copy.data());
    bf16_row_dots_scalar(q.data(), rows.data(), n, dim, scalar_out.data(), nullptr);
    for (int64_t j = 0; j < n; ++j) {
      if (!rows[j]) {
        EXPECT_EQ(out[j], -7.0f);
        EXPECT_EQ(copy[j * dim], -7.0f);
        continue;
      }
      const float want = simd ? canonical_dot(q.data(), rows[j], dim) : scalar_out[j];
      ASSERT_EQ(std::bit_cast<uint32_t>(out[j]), std::bit_cast<uint32_t>(want)) << "dim " << dim << " row " << j;
      for (int64_t i = 0; i < dim; ++i) ASSERT_EQ(copy[j * dim + i], kv[j * dim + i]);
      // One row alone gives the same score (no dependence on the other rows).
      float alone = 0.0f;
      bf16_row_dots(q.data(), &rows[j], 1, dim, &alone, nullptr);
      ASSERT_EQ(std::bit_cast<uint32_t>(alone), std::bit_cast<uint32_t>(out[j]));
      // Close to the exact dot: both orders are within (dim + dim/16 + 4) u sum|t|.
      double exact = 0.0, sumabs = 0.0;
      for (int64_t i = 0; i < dim; ++i) {
        exact += double(q[i]) * kv[j * dim + i];
        sumabs += std::fabs(double(q[i]) * kv[j * dim + i]);
      }
      EXPECT_LE(std::fabs(out[j] - exact), (dim + dim / 16 + 5) * 0x1p-24 * sumabs);
    }
  }
}

}  // namespace
}  // namespace dsv4::kernels

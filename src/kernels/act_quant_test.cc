// quantize_rows_fast (vectorized on the AVX2 / AVX-512 tiers) is bitwise quantize_rows, the
// reference: every finite bf16 value under three block scales (the rounding depends only on
// x / scale, so this covers every e4m3 rounding case the activations reach, ties included),
// random fp32 values, specials (+-0, +-inf, NaN, +-448, the subnormal / normal boundary) and K
// tails. Run with DSV4_FORCE_CPU=avx2 to cover that tier on an AVX-512 machine.
#include "kernels/act_quant.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tensor/bf16.h"

namespace dsv4::kernels {
namespace {

void expect_same(const std::vector<float>& x, int64_t m, int64_t k) {
  const QuantizedRows ref = quantize_rows(x.data(), m, k);
  const QuantizedRows fast = quantize_rows_fast(x.data(), m, k);
  ASSERT_EQ(ref.vals.size(), fast.vals.size());
  ASSERT_EQ(ref.scales.size(), fast.scales.size());
  for (size_t i = 0; i < ref.scales.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(ref.scales[i]), std::bit_cast<uint32_t>(fast.scales[i])) << "scale " << i;
  for (size_t i = 0; i < ref.vals.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(ref.vals[i]), std::bit_cast<uint32_t>(fast.vals[i]))
        << "element " << i << " x=" << x[i] << " ref=" << ref.vals[i] << " fast=" << fast.vals[i];
}

TEST(ActQuantFast, EveryBf16ValueUnderThreeScales) {
  for (int e : {-10, 0, 9}) {
    const float top = std::ldexp(448.0f, e);  // the first element of each block sets scale 2^e
    std::vector<float> cand;
    for (uint32_t p = 0; p < 65536; ++p) {
      const float v = bf16_to_f32(bf16{static_cast<uint16_t>(p)});
      if (std::isfinite(v) && std::fabs(v) <= top) cand.push_back(v);
    }
    std::vector<float> x;
    for (size_t i = 0; i < cand.size(); i += 127) {
      x.push_back(top);
      for (size_t j = i; j < std::min(cand.size(), i + 127); ++j) x.push_back(cand[j]);
    }
    while (x.size() % 128) x.push_back(0.0f);
    expect_same(x, 1, static_cast<int64_t>(x.size()));
  }
}

TEST(ActQuantFast, RandomFp32RowsWithTails) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-30, 30);
  for (int64_t k : {4096, 300, 7, 128, 129}) {
    const int64_t m = 3;
    std::vector<float> x(m * k);
    for (auto& v : x) v = std::ldexp(d(rng), ex(rng) / 3);
    expect_same(x, m, k);
  }
}

TEST(ActQuantFast, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[] = {0.0f, -0.0f, 448.0f, -448.0f, 464.0f, 480.0f, 0x1p-6f, 0x1.fp-7f, 0x1.ep-7f,
                            0x1p-9f, 0x1.8p-10f, 0x1p-10f, 1e-30f, 1e-45f, 1.0625f, 1.1875f, -3.75f};
  // Block 0: the specials under scale 1 (amax 448); block 1: with an inf; block 2: with a NaN;
  // block 3: all tiny (amax floor).
  std::vector<float> x(4 * 128, 0.0f);
  for (size_t i = 0; i < std::size(specials); ++i) {
    x[i] = specials[i];
    x[128 + i] = specials[i];
    x[256 + i] = specials[i] * 0.5f;
    x[384 + i] = specials[i] * 1e-9f;
  }
  x[128 + 100] = inf;
  x[128 + 101] = -inf;
  x[256 + 100] = nan;
  x[256 + 101] = -nan;
  expect_same(x, 1, 4 * 128);
}

}  // namespace
}  // namespace dsv4::kernels

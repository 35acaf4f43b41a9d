// Block quantization (spec §2.11) against a straightforward independent formulation: amax in
// double, scale exponent by frexp, nearest grid value by search, bf16 rounding by nearbyint.
#include "tensor/quant.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/fp4.h"
#include "tensor/fp8.h"

namespace dsv4 {
namespace {

std::vector<double> fp8_grid() {  // non-negative finite e4m3 values
  std::vector<double> g;
  for (int c = 0; c <= 0x7e; ++c) {
    const int e = c >> 3, m = c & 7;
    g.push_back(e == 0 ? std::ldexp(m, -9) : std::ldexp(8 + m, e - 10));
  }
  return g;
}
const std::vector<double> kFp4Grid = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

// Nearest grid value to clamp(|x|, qmax), ties to the even index (even mantissa / even code).
double nearest(const std::vector<double>& grid, double x) {
  const double a = std::min(std::fabs(x), grid.back());
  size_t best = 0;
  for (size_t i = 1; i < grid.size(); ++i) {
    const double d = std::fabs(grid[i] - a), bd = std::fabs(grid[best] - a);
    if (d < bd || (d == bd && i % 2 == 0)) best = i;
  }
  return std::signbit(x) ? -grid[best] : grid[best];
}

double bf16_rne(double v) {  // v is exactly representable in double; bf16 keeps 8 significant bits
  if (v == 0) return v;
  const int e = std::max(std::ilogb(v), -126);
  const double ulp = std::ldexp(1.0, e - 7);
  return std::nearbyint(v / ulp) * ulp;
}

int scale_exponent(double amax, float floor, float qmax) {
  const float a = static_cast<float>(std::max(amax, static_cast<double>(floor)));
  const float v = a * (1.0f / qmax);  // fp32 product with the fp32 reciprocal
  int ex = 0;
  const double m = std::frexp(static_cast<double>(v), &ex);
  return m == 0.5 ? ex - 1 : ex;
}

std::vector<float> reference_roundtrip(const std::vector<float>& x, size_t block, const std::vector<double>& grid,
                                       float floor, std::vector<int>* exps = nullptr) {
  std::vector<float> out(x.size());
  const float qmax = static_cast<float>(grid.back());
  for (size_t b = 0; b < x.size(); b += block) {
    double amax = 0;
    for (size_t i = b; i < b + block; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
    const int e = scale_exponent(amax, floor, qmax);
    if (exps) exps->push_back(e);
    for (size_t i = b; i < b + block; ++i) {
      const double q = nearest(grid, std::ldexp(static_cast<double>(x[i]), -e));
      out[i] = static_cast<float>(bf16_rne(std::ldexp(q, e)));
    }
  }
  return out;
}

// Blocks spanning many magnitudes, with exact zeros, tiny blocks and power-of-two amax.
std::vector<float> test_data(size_t block, size_t nblocks, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> mag(-40, 20);
  std::vector<float> x(block * nblocks);
  for (size_t b = 0; b < nblocks; ++b) {
    const float scale = std::ldexp(1.0f, mag(rng));
    for (size_t i = 0; i < block; ++i) x[b * block + i] = normal(rng) * scale;
    switch (b % 6) {
      case 0: std::fill_n(&x[b * block], block, 0.0f); break;                 // amax floor
      case 1: x[b * block] = std::ldexp(448.0f, mag(rng) / 2); break;           // FP8 boundary
      case 2: x[b * block + 1] = -std::ldexp(6.0f, mag(rng) / 2); break;        // FP4 boundary
      case 3: for (size_t i = 0; i < block; ++i) x[b * block + i] *= 1e-30f; break;  // below floors
      default: break;
    }
  }
  return x;
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
        << "element " << i << ": " << got[i] << " vs " << want[i];
}

TEST(Quant, Fp8RoundTripBlocksOf64MatchReference) {
  const auto x = test_data(64, 600, 1);
  auto got = x;
  fp8_roundtrip(got.data(), got.size(), 64);
  expect_same(got, reference_roundtrip(x, 64, fp8_grid(), kFp8AmaxFloor));
}

TEST(Quant, Fp4RoundTripBlocksOf32MatchReference) {
  const auto x = test_data(32, 1200, 2);
  auto got = x;
  fp4_roundtrip(got.data(), got.size(), 32);
  expect_same(got, reference_roundtrip(x, 32, kFp4Grid, kFp4AmaxFloor));
}

TEST(Quant, Fp8QuantizeBlocksOf128MatchReference) {
  const auto x = test_data(128, 300, 3);
  std::vector<uint8_t> q(x.size());
  std::vector<int8_t> exps(x.size() / 128);
  fp8_quantize(x.data(), x.size(), 128, q.data(), exps.data());
  std::vector<int> want_exps;
  const auto grid = fp8_grid();
  reference_roundtrip(x, 128, grid, kFp8AmaxFloor, &want_exps);
  for (size_t b = 0; b < exps.size(); ++b) {
    ASSERT_EQ(exps[b], want_exps[b]) << "block " << b;
    for (size_t i = b * 128; i < (b + 1) * 128; ++i)
      ASSERT_EQ(static_cast<double>(fp8_e4m3_to_f32(q[i])), nearest(grid, std::ldexp(double{x[i]}, -exps[b])))
          << "element " << i;
  }
}

TEST(Quant, AmaxFloors) {
  // FP8: an all-zero block takes amax = 1e-4, so the scale is 2^ceil(log2(1e-4/448)) = 2^-22.
  std::vector<float> z(128, 0.0f);
  std::vector<uint8_t> q(128);
  int8_t e = 0;
  fp8_quantize(z.data(), 128, 128, q.data(), &e);
  EXPECT_EQ(e, -22);
  for (uint8_t c : q) EXPECT_EQ(c, 0);
  // A block of 1e-6 uses the floor scale too: 1e-6 / 2^-22 = 4.19 -> 4.
  std::vector<float> tiny(64, 1e-6f);
  fp8_roundtrip(tiny.data(), 64, 64);
  for (float v : tiny) EXPECT_EQ(v, std::ldexp(4.0f, -22));
  // FP4: floor 6 * 2^-126 gives scale 2^-126; 0.8 * 2^-126 -> 1 * 2^-126, 0.2 * 2^-126 -> 0.
  std::vector<float> f4(32, 0.0f);
  f4[0] = 0.8f * 0x1p-126f;
  f4[1] = 0.2f * 0x1p-126f;
  fp4_roundtrip(f4.data(), 32, 32);
  EXPECT_EQ(f4[0], 0x1p-126f);
  EXPECT_EQ(f4[1], 0.0f);
}

TEST(Quant, ExactPowerOfTwoAmaxUsesTheFullRange) {
  // amax = 448 * 2^k exactly: scale 2^k, the max maps to code 0x7e; just above: scale 2^(k+1).
  for (int k : {-10, 0, 3}) {
    std::vector<float> x(128, 0.0f);
    x[5] = std::ldexp(448.0f, k);
    std::vector<uint8_t> q(128);
    int8_t e = 0;
    fp8_quantize(x.data(), 128, 128, q.data(), &e);
    EXPECT_EQ(e, k);
    EXPECT_EQ(q[5], 0x7e);
    x[5] = std::nextafter(x[5], INFINITY);
    fp8_quantize(x.data(), 128, 128, q.data(), &e);
    EXPECT_EQ(e, k + 1);
    EXPECT_EQ(q[5], 0x76);  // 224
  }
}

}  // namespace
}  // namespace dsv4

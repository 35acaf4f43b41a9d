// FP8 e4m3fn and UE8M0: exhaustive decode, brute-force-checked encode, every named edge case.
#include "tensor/fp8.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

namespace dsv4 {
namespace {

// Independent decode: finite e4m3 codes are m * 2^-9 (e = 0) or (8 + m) * 2^(e - 10).
double expected_e4m3(int code) {
  const int e = (code >> 3) & 0xf, m = code & 7;
  const double mag = e == 0 ? m * std::ldexp(1.0, -9) : (8 + m) * std::ldexp(1.0, e - 10);
  return (code & 0x80) ? -mag : mag;
}

// Brute force: the finite code nearest to clamp(x, +-448), ties to the even code (even mantissa).
uint8_t brute_e4m3(float x) {
  const double a = std::min(std::fabs(static_cast<double>(x)), 448.0);
  int best = 0;
  double best_d = INFINITY;
  for (int c = 0; c <= 0x7e; ++c) {
    const double d = std::fabs(expected_e4m3(c) - a);
    if (d < best_d || (d == best_d && (c & 1) == 0)) best = c, best_d = d;
  }
  return static_cast<uint8_t>(best | (std::signbit(x) ? 0x80 : 0));
}

TEST(Fp8, DecodesAll256Codes) {
  const float* table = fp8_e4m3_table();
  for (int c = 0; c < 256; ++c) {
    const float v = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    if ((c & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(v)) << c;
      EXPECT_TRUE(std::isnan(table[c])) << c;
      continue;
    }
    EXPECT_EQ(static_cast<double>(v), expected_e4m3(c)) << c;
    EXPECT_EQ(std::bit_cast<uint32_t>(table[c]), std::bit_cast<uint32_t>(v)) << c;
  }
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0xfe), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::signbit(fp8_e4m3_to_f32(0x80)));
}

TEST(Fp8, EncodeOfDecodeIsIdentityForEveryFiniteCode) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7f) == 0x7f) continue;
    EXPECT_EQ(f32_to_fp8_e4m3(fp8_e4m3_to_f32(static_cast<uint8_t>(c))), c) << c;
  }
}

TEST(Fp8, NanKeepsItsSign) {
  EXPECT_EQ(f32_to_fp8_e4m3(NAN), 0x7f);
  EXPECT_EQ(f32_to_fp8_e4m3(-NAN), 0xff);
}

TEST(Fp8, SaturatesAbove448) {
  for (float x : {448.0f, 448.5f, 455.0f, 456.0f, 463.99f, 464.0f, 465.0f, 480.0f, 1e6f, 3e38f, INFINITY}) {
    EXPECT_EQ(f32_to_fp8_e4m3(x), 0x7e) << x;
    EXPECT_EQ(f32_to_fp8_e4m3(-x), 0xfe) << x;
  }
  // Just below 448: 416 and 448 are neighbours; 432 ties to 448 (mantissa 6 is even).
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(432.0f)), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(431.99f)), 416.0f);
}

TEST(Fp8, TiesRoundToEven) {
  const float step = std::ldexp(1.0f, -9);  // subnormal step
  EXPECT_EQ(f32_to_fp8_e4m3(0.5f * step), 0x00);  // 0 vs 1 step: to 0
  EXPECT_EQ(f32_to_fp8_e4m3(1.5f * step), 0x02);
  EXPECT_EQ(f32_to_fp8_e4m3(2.5f * step), 0x02);
  EXPECT_EQ(f32_to_fp8_e4m3(3.5f * step), 0x04);
  EXPECT_EQ(f32_to_fp8_e4m3(7.5f * step), 0x08);  // last subnormal vs smallest normal 2^-6
  EXPECT_EQ(f32_to_fp8_e4m3(std::nextafter(0.5f * step, 1.0f)), 0x01);
  EXPECT_EQ(f32_to_fp8_e4m3(-1.5f * step), 0x82);
  EXPECT_EQ(f32_to_fp8_e4m3(1.0625f), 0x38);  // 1 vs 1.125: to 1 (even)
  EXPECT_EQ(f32_to_fp8_e4m3(1.1875f), 0x3a);  // 1.125 vs 1.25: to 1.25
  EXPECT_EQ(f32_to_fp8_e4m3(std::ldexp(1.0625f, -6)), 0x08);
  EXPECT_EQ(f32_to_fp8_e4m3(15.5f), 0x58);  // 15 vs 16: to 16 (exponent carry)
  EXPECT_EQ(f32_to_fp8_e4m3(14.5f), 0x56);  // 14 vs 15: to 14
}

TEST(Fp8, MatchesBruteForceNearestEven) {
  std::vector<float> xs;
  // Every code's value, the midpoints to its neighbour, and one ulp either side of those.
  for (int c = 0; c < 0x7e; ++c) {
    const float lo = static_cast<float>(expected_e4m3(c)), hi = static_cast<float>(expected_e4m3(c + 1));
    const float mid = 0.5f * (lo + hi);
    for (float v : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), std::nextafter(lo, 1e9f)})
      xs.push_back(v);
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_real_distribution<float> expo(-14.0f, 10.0f);
  for (int i = 0; i < 50000; ++i) {
    xs.push_back(std::ldexp(1.0f + (bits(rng) >> 9) * 0x1p-23f, static_cast<int>(expo(rng))));
    xs.push_back(std::bit_cast<float>(bits(rng)));  // the whole float range, NaN excluded below
  }
  for (float x : xs) {
    for (float s : {x, -x}) {
      if (std::isnan(s)) continue;
      ASSERT_EQ(f32_to_fp8_e4m3(s), brute_e4m3(s)) << std::hexfloat << s;
    }
  }
}

TEST(Ue8m0, DecodesEveryExponent) {
  EXPECT_TRUE(std::isnan(ue8m0_to_f32(255)));
  EXPECT_EQ(ue8m0_to_f32(0), std::ldexp(1.0f, -127));
  for (int e = 1; e < 255; ++e) EXPECT_EQ(ue8m0_to_f32(static_cast<uint8_t>(e)), std::ldexp(1.0f, e - 127)) << e;
}

TEST(Ue8m0, Pow2fIsExact) {
  for (int e = -149; e <= 127; ++e) EXPECT_EQ(pow2f(e), std::ldexp(1.0f, e)) << e;
}

// Independent formulation: ceil(log2(fp32(amax * fp32(1/Qmax)))) computed with frexp.
int expected_ceil_exponent(float amax, float qmax) {
  const float inv = 1.0f / qmax;
  const float v = amax * inv;
  int ex = 0;
  const float m = std::frexp(v, &ex);  // v = m * 2^ex, m in [0.5, 1)
  return m == 0.5f ? ex - 1 : ex;
}

TEST(Ue8m0, CeilExponentAtPowerOfTwoBoundaries) {
  for (float qmax : {448.0f, 6.0f}) {
    const float inv = 1.0f / qmax;
    for (int k = -30; k <= 30; ++k) {
      const float exact = std::ldexp(qmax, k);
      EXPECT_EQ(ue8m0_ceil_exponent(exact, inv), k) << qmax << " k=" << k;
      EXPECT_EQ(ue8m0_ceil_exponent(std::nextafter(exact, INFINITY), inv), k + 1) << qmax << " k=" << k;
      EXPECT_EQ(ue8m0_ceil_exponent(std::nextafter(exact, 0.0f), inv), k) << qmax << " k=" << k;
    }
  }
}

TEST(Ue8m0, CeilExponentMatchesIndependentFormulation) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits(1u, 0x7effffffu);  // positive finite floats
  for (int i = 0; i < 200000; ++i) {
    const float a = std::bit_cast<float>(bits(rng));
    for (float qmax : {448.0f, 6.0f}) {
      const float v = a * (1.0f / qmax);
      if (v == 0.0f || std::isinf(v)) continue;
      ASSERT_EQ(ue8m0_ceil_exponent(a, 1.0f / qmax), expected_ceil_exponent(a, qmax)) << std::hexfloat << a;
    }
  }
}

}  // namespace
}  // namespace dsv4

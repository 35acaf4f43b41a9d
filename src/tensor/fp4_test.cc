// FP4 e2m1: all 16 codes, the spec's tie cases, saturation, nibble order, brute-force encode.
#include "tensor/fp4.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

namespace dsv4 {
namespace {

constexpr double kMagnitudes[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};

uint8_t brute_e2m1(float x) {
  const double a = std::min(std::fabs(static_cast<double>(x)), 6.0);
  int best = 0;
  double best_d = INFINITY;
  for (int c = 0; c < 8; ++c) {
    const double d = std::fabs(kMagnitudes[c] - a);
    if (d < best_d || (d == best_d && (c & 1) == 0)) best = c, best_d = d;
  }
  return static_cast<uint8_t>(best | (std::signbit(x) ? 8 : 0));
}

TEST(Fp4, DecodesAll16Codes) {
  for (int c = 0; c < 16; ++c) {
    const float v = fp4_e2m1_to_f32(static_cast<uint8_t>(c));
    EXPECT_EQ(static_cast<double>(v), (c & 8) ? -kMagnitudes[c & 7] : kMagnitudes[c & 7]) << c;
    EXPECT_EQ(std::signbit(v), (c & 8) != 0) << c;  // code 8 is -0
    EXPECT_EQ(fp4_e2m1_to_f32(static_cast<uint8_t>(c | 0xf0)), v) << "high bits ignored";
  }
}

TEST(Fp4, EncodeOfDecodeIsIdentity) {
  for (int c = 0; c < 16; ++c) EXPECT_EQ(f32_to_fp4_e2m1(fp4_e2m1_to_f32(static_cast<uint8_t>(c))), c) << c;
}

TEST(Fp4, SpecTieCases) {
  const struct { float x, want; } cases[] = {{0.25f, 0}, {0.75f, 1}, {1.25f, 1}, {1.75f, 2},
                                             {2.5f, 2},  {3.5f, 4},  {5.0f, 4}};
  for (const auto& c : cases) {
    EXPECT_EQ(fp4_e2m1_to_f32(f32_to_fp4_e2m1(c.x)), c.want) << c.x;
    EXPECT_EQ(fp4_e2m1_to_f32(f32_to_fp4_e2m1(-c.x)), -c.want) << c.x;
    // Off the tie, the nearest value wins.
    EXPECT_GT(fp4_e2m1_to_f32(f32_to_fp4_e2m1(std::nextafter(c.x, 100.0f))), c.x) << c.x;
    EXPECT_LT(fp4_e2m1_to_f32(f32_to_fp4_e2m1(std::nextafter(c.x, 0.0f))), c.x) << c.x;
  }
}

TEST(Fp4, Saturates) {
  for (float x : {6.0f, 6.5f, 7.0f, 100.0f, INFINITY}) {
    EXPECT_EQ(f32_to_fp4_e2m1(x), 7) << x;
    EXPECT_EQ(f32_to_fp4_e2m1(-x), 15) << x;
  }
}

TEST(Fp4, MatchesBruteForceNearestEven) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    for (float x : {u(rng), std::bit_cast<float>(bits(rng))}) {
      if (std::isnan(x)) continue;
      ASSERT_EQ(f32_to_fp4_e2m1(x), brute_e2m1(x)) << std::hexfloat << x;
    }
  }
}

TEST(Fp4, NibbleOrderIsLowThenHigh) {
  const uint8_t b = fp4_pack(/*even=*/0x3, /*odd=*/0xe);
  EXPECT_EQ(b, 0xe3);
  EXPECT_EQ(fp4_low(b), 0x3);   // element 2c
  EXPECT_EQ(fp4_high(b), 0xe);  // element 2c+1
  EXPECT_EQ(fp4_e2m1_to_f32(fp4_low(b)), 1.5f);
  EXPECT_EQ(fp4_e2m1_to_f32(fp4_high(b)), -4.0f);
}

}  // namespace
}  // namespace dsv4

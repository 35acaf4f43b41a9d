// bf16 (RNE, NaN) and IEEE half (exhaustive round trip, brute-force encode).
#include "tensor/bf16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

namespace dsv4 {
namespace {

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// Brute force: of the two bf16 neighbours of x (truncation and the next code up), the nearer one,
// ties to the even code. Works on magnitudes in double; rounding past the largest finite gives inf.
uint16_t brute_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint16_t lo = static_cast<uint16_t>((u & 0x7fffffff) >> 16), hi = static_cast<uint16_t>(lo + 1);
  const double a = std::fabs(static_cast<double>(x));
  const double vlo = std::bit_cast<float>(static_cast<uint32_t>(lo) << 16);
  // hi may be 0x7f80 (inf): its "value" for rounding purposes is 2^128.
  const double vhi = hi == 0x7f80 ? std::ldexp(1.0, 128) : std::bit_cast<float>(static_cast<uint32_t>(hi) << 16);
  const double dlo = a - vlo, dhi = vhi - a;
  const uint16_t pick = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) ? hi : lo);
  return sign | pick;
}

TEST(Bf16, TiesRoundToEven) {
  EXPECT_EQ(round_bf16(1.0f + 0x1p-8f), 1.0f);               // halfway to 1 + 2^-7: even is 1
  EXPECT_EQ(round_bf16(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f);  // halfway: even is 1 + 2^-6
  EXPECT_EQ(round_bf16(std::nextafter(1.0f + 0x1p-8f, 2.0f)), 1.0f + 0x1p-7f);
  EXPECT_EQ(round_bf16(-(1.0f + 0x1p-8f)), -1.0f);
  EXPECT_EQ(f32_to_bf16(from_bits(0x7f7fffff)).bits, 0x7f80);  // FLT_MAX rounds up to inf
  EXPECT_EQ(f32_to_bf16(INFINITY).bits, 0x7f80);
  EXPECT_EQ(f32_to_bf16(-0.0f).bits, 0x8000);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000)).bits, 0x0002);  // subnormal tie 1.5 -> 2
}

TEST(Bf16, NanStaysNan) {
  for (uint32_t u : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7f80ffffu, 0xffffffffu}) {
    const bf16 h = f32_to_bf16(from_bits(u));
    EXPECT_TRUE(std::isnan(bf16_to_f32(h))) << std::hex << u;
    EXPECT_EQ(h.bits & 0x8000, (u >> 16) & 0x8000) << std::hex << u;
  }
}

TEST(Bf16, MatchesBruteForceOnRandomFloats) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 500000; ++i) {
    uint32_t u = bits(rng);
    if (i % 4 == 0) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
    const float x = from_bits(u);
    if (std::isnan(x)) continue;
    ASSERT_EQ(f32_to_bf16(x).bits, brute_bf16(x)) << std::hex << u;
  }
  for (uint32_t c = 0; c < 0x10000; ++c) {  // every bf16 value round-trips
    const float v = from_bits(c << 16);
    if (std::isnan(v)) continue;
    ASSERT_EQ(f32_to_bf16(v).bits, c);
  }
}

// Independent half decode.
double expected_f16(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double mag = e == 0 ? std::ldexp(m, -24) : e == 31 ? INFINITY : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -mag : mag;
}

TEST(F16, ExhaustiveDecodeAndRoundTrip) {
  for (uint32_t c = 0; c < 0x10000; ++c) {
    const f16 h{static_cast<uint16_t>(c)};
    const float v = f16_to_f32(h);
    if (((c >> 10) & 0x1f) == 0x1f && (c & 0x3ff)) {
      EXPECT_TRUE(std::isnan(v)) << c;
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(v)))) << c;
      continue;
    }
    ASSERT_EQ(static_cast<double>(v), expected_f16(h.bits)) << c;
    ASSERT_EQ(std::signbit(v), (c & 0x8000) != 0) << c;
    ASSERT_EQ(f32_to_f16(v).bits, c) << c;
  }
}

uint16_t brute_f16(float x) {
  const double a = std::fabs(static_cast<double>(x));
  // The finite halves are sorted by code; find the nearest, ties to even; past 65520 it is inf.
  uint16_t best = 0;
  if (a >= 65520.0) {
    best = 0x7c00;
  } else {
    double best_d = INFINITY;
    int lo = 0, hi = 0x7bff;
    while (lo < hi) {  // first code with value >= a
      const int mid = (lo + hi) / 2;
      if (expected_f16(static_cast<uint16_t>(mid)) < a) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    for (int c = std::max(0, lo - 1); c <= std::min(0x7bff, lo); ++c) {
      const double d = std::fabs(expected_f16(static_cast<uint16_t>(c)) - a);
      if (d < best_d || (d == best_d && (c & 1) == 0)) best = static_cast<uint16_t>(c), best_d = d;
    }
  }
  return static_cast<uint16_t>(best | (std::signbit(x) ? 0x8000 : 0));
}

TEST(F16, EncodeMatchesBruteForce) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_real_distribution<float> expo(-27.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(1.0f + (bits(rng) >> 9) * 0x1p-23f, static_cast<int>(expo(rng)));
    ASSERT_EQ(f32_to_f16(x).bits, brute_f16(x)) << std::hexfloat << x;
    ASSERT_EQ(f32_to_f16(-x).bits, brute_f16(-x)) << std::hexfloat << x;
  }
  EXPECT_EQ(f32_to_f16(65519.99f).bits, 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f).bits, 0x7c00);
  EXPECT_EQ(f32_to_f16(0x1p-25f).bits, 0x0000);      // tie between 0 and the smallest subnormal
  EXPECT_EQ(f32_to_f16(3 * 0x1p-25f).bits, 0x0002);  // tie: even subnormal
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f).bits, 0x3c00);
  EXPECT_EQ(f32_to_f16(-INFINITY).bits, 0xfc00);
}

}  // namespace
}  // namespace dsv4

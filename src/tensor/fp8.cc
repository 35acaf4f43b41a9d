#include "tensor/fp8.h"

#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace dsv4 {

float fp8_e4m3_to_f32(uint8_t code) {
  const bool neg = code & 0x80;
  const int exp = (code >> 3) & 0xf;
  const int man = code & 0x7;
  float v;
  if (exp == 0xf && man == 0x7) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -9);
  } else {
    v = std::ldexp(1.0f + man / 8.0f, exp - 7);
  }
  return neg ? -v : v;
}

uint8_t f32_to_fp8_e4m3(float x) {
  uint32_t u = std::bit_cast<uint32_t>(x);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7f;
  if (a >= std::bit_cast<uint32_t>(kFp8Max)) return sign | 0x7e;  // saturate (inf too)
  if (a < 0x3c800000u) {  // |x| < 2^-6: subnormal grid with step 2^-9
    float v = std::bit_cast<float>(a);
    uint32_t m = static_cast<uint32_t>(std::nearbyint(v * 512.0f));  // exact scaling; RNE
    return sign | static_cast<uint8_t>(m);  // m == 8 is the smallest normal, code 0x08
  }
  // Normal: keep 3 mantissa bits with round-to-nearest-even on the fp32 pattern.
  a += 0x7ffffu + ((a >> 20) & 1u);
  uint32_t exp = (a >> 23) - 127 + 7;
  uint32_t man = (a >> 20) & 0x7;
  uint32_t code = (exp << 3) | man;
  if (code > 0x7e) code = 0x7e;  // 464 rounds past 448: saturate
  return sign | static_cast<uint8_t>(code);
}

const float* fp8_e4m3_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = fp8_e4m3_to_f32(static_cast<uint8_t>(i));
    return t;
  }();
  return table.data();
}

float ue8m0_to_f32(uint8_t e) {
  if (e == 255) return std::numeric_limits<float>::quiet_NaN();
  if (e == 0) return std::ldexp(1.0f, -127);
  return std::bit_cast<float>(static_cast<uint32_t>(e) << 23);
}

int ue8m0_ceil_exponent(float amax, float inv_qmax) {
  const float v = amax * inv_qmax;
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const int exp = static_cast<int>((bits >> 23) & 0xff);
  const uint32_t man = bits & 0x7fffffu;
  if (exp == 0 && man != 0) {  // subnormal v (below both amax floors' range): same ceil via frexp
    int ex = 0;
    const float m = std::frexp(v, &ex);
    return m == 0.5f ? ex - 1 : ex;
  }
  return exp - 127 + (man != 0 ? 1 : 0);
}

}  // namespace dsv4

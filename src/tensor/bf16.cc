#include "tensor/bf16.h"

#include <cmath>

namespace dsv4 {

float f16_to_f32(f16 h) {
  uint32_t sign = (h.bits & 0x8000u) << 16;
  uint32_t exp = (h.bits >> 10) & 0x1f;
  uint32_t man = h.bits & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    float v = std::ldexp(static_cast<float>(man), -24);  // subnormal: man * 2^-24, exact
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

f16 f32_to_f16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return f16{static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ff))};
  if (a >= 0x477ff000u) return f16{static_cast<uint16_t>(sign | 0x7c00u)};  // rounds to >= 65520: inf
  if (a < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    float v = std::bit_cast<float>(a);
    // v / 2^-24 rounded to nearest even; nearbyint uses the current (RNE) rounding mode.
    uint32_t m = static_cast<uint32_t>(std::nearbyint(std::ldexp(v, 24)));
    return f16{static_cast<uint16_t>(sign | m)};  // m == 0x400 becomes the smallest normal: fine
  }
  a += 0xfffu + ((a >> 13) & 1u);
  return f16{static_cast<uint16_t>(sign | ((a - 0x38000000u) >> 13))};
}

}  // namespace dsv4

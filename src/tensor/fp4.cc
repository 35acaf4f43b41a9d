#include "tensor/fp4.h"

#include <bit>
#include <cmath>

namespace dsv4 {
namespace {
constexpr float kGrid[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
}

float fp4_e2m1_to_f32(uint8_t nibble) {
  const float v = kGrid[nibble & 7];
  return (nibble & 8) ? -v : v;
}

uint8_t f32_to_fp4_e2m1(float x) {
  if (std::isnan(x)) return 0;
  const uint8_t sign = std::signbit(x) ? 8 : 0;
  const float a = std::fabs(x);
  uint8_t code = 7;
  for (uint8_t c = 0; c < 7; ++c) {
    const float mid = 0.5f * (kGrid[c] + kGrid[c + 1]);  // exact: grid midpoints are dyadic
    if (a < mid) { code = c; break; }
    if (a == mid) { code = (c % 2 == 0) ? c : static_cast<uint8_t>(c + 1); break; }
  }
  return sign | code;
}

}  // namespace dsv4

// FP4 e2m1 (OCP MXFP4 element): sign bit 3, magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}.
// Packed two per byte: element 2c in the low nibble, element 2c+1 in the high nibble.
#pragma once
#include <cstdint>

namespace dsv4 {

constexpr float kFp4Max = 6.0f;

float fp4_e2m1_to_f32(uint8_t nibble);  // uses the low 4 bits
// Saturating (to +-6) round-to-nearest with ties to the even code (0.25->0, 0.75->1, 2.5->2, 5->4).
// NaN has no e2m1 code; it maps to +0 (callers clamp first, as the reference does).
uint8_t f32_to_fp4_e2m1(float x);

inline uint8_t fp4_low(uint8_t byte) { return byte & 0xf; }
inline uint8_t fp4_high(uint8_t byte) { return byte >> 4; }
inline uint8_t fp4_pack(uint8_t even, uint8_t odd) { return static_cast<uint8_t>((even & 0xf) | (odd << 4)); }

}  // namespace dsv4

// bfloat16 and IEEE half as 16-bit storage types with exact conversions.
// bf16 rounding is round-to-nearest-even (PyTorch's .to(torch.bfloat16)); NaN stays NaN (quiet).
#pragma once
#include <bit>
#include <cstdint>

namespace dsv4 {

struct bf16 {
  uint16_t bits = 0;
};

inline float bf16_to_f32(bf16 h) { return std::bit_cast<float>(static_cast<uint32_t>(h.bits) << 16); }

inline bf16 f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<uint16_t>((u >> 16) | 0x40)};  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<uint16_t>(u >> 16)};
}

// The value a float takes after one round trip through bf16 (the reference's `.to(bf16)`).
inline float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

struct f16 {
  uint16_t bits = 0;
};

float f16_to_f32(f16 h);
f16 f32_to_f16(float f);  // round-to-nearest-even, overflow to inf, NaN preserved

}  // namespace dsv4

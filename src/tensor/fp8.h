// FP8 e4m3fn (bias 7, max 448, no infinities, 0x7f/0xff = NaN) and UE8M0 power-of-two scales.
// Encoding saturates to +-448 and rounds to nearest even, subnormal step 2^-9 (spec §2.11, §4.3).
#pragma once
#include <cstdint>

namespace dsv4 {

constexpr float kFp8Max = 448.0f;

float fp8_e4m3_to_f32(uint8_t code);
uint8_t f32_to_fp8_e4m3(float x);  // saturating RNE; NaN -> 0x7f (with the sign bit)

// 256-entry decode table, for kernels.
const float* fp8_e4m3_table();

// UE8M0: value 2^(e-127); e = 255 is NaN; e = 0 maps to 2^-127.
float ue8m0_to_f32(uint8_t e);

// The power-of-two scale of a block: 2^ceil(log2(amax * inv_qmax)), the ceil taken from the fp32
// bit pattern as the reference's fast_log2_ceil does. `inv_qmax` is the fp32 reciprocal of Qmax
// (multiplication, never division). Returns the exponent e (scale = 2^e). amax must be finite and
// positive (the callers' amax floors guarantee it); an infinite amax yields 128.
int ue8m0_ceil_exponent(float amax, float inv_qmax);
inline float pow2f(int e) {  // exact 2^e for e in [-126, 127]; smaller goes subnormal
  return e >= -126 ? __builtin_bit_cast(float, static_cast<uint32_t>(e + 127) << 23)
                   : __builtin_ldexpf(1.0f, e);
}

}  // namespace dsv4

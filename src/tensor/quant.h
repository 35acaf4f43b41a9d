// Block quantization helpers with the reference's exact semantics (spec §2.11):
// per-block amax (clamped below), a UE8M0 power-of-two scale from the fp32-bit-pattern ceil,
// then a saturating RNE cast of x / scale.
//   * FP8 blocks of 64, round trip: the non-RoPE part of every KV row.
//   * FP4 blocks of 32, round trip: indexer queries and keys (after the Hadamard rotation).
//   * FP8 blocks of 128, codes + scales: activations entering every FP8/FP4 linear.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dsv4 {

constexpr float kFp8AmaxFloor = 1e-4f;
constexpr float kFp4AmaxFloor = 6.0f * 1.1754943508222875e-38f;  // 6 * 2^-126

// x[n] (n a multiple of `block`) is replaced by bf16(fp8(x / s) * s) per block (in place).
void fp8_roundtrip(float* x, size_t n, size_t block);
// x[n] is replaced by bf16(fp4(x / s) * s) per block of `block` (in place).
void fp4_roundtrip(float* x, size_t n, size_t block);

// Quantizes x[n] to FP8 codes q[n] with one scale exponent per block of `block` values:
// x ~= fp8(q) * 2^exps[b]. n must be a multiple of block.
void fp8_quantize(const float* x, size_t n, size_t block, uint8_t* q, int8_t* exps);

}  // namespace dsv4

// FP8 activation quantization in front of every FP8/FP4 linear (spec §2.11): each row is quantized
// in blocks of 128 along K to e4m3 with a power-of-two scale. Shared by every kernel variant, so
// all of them see bit-identical quantized inputs.
#pragma once
#include <cstdint>
#include <vector>

namespace dsv4::kernels {

// Activation rows quantized to FP8 (values as unscaled floats) with one scale per 128-block.
struct QuantizedRows {
  int64_t n_blocks = 0;
  std::vector<float> vals;    // [m, k]
  std::vector<float> scales;  // [m, n_blocks], each 2^e
};

// The reference quantization (tensor/quant.h fp8_quantize, then the e4m3 table).
QuantizedRows quantize_rows(const float* x, int64_t m, int64_t k);
// Bitwise the same result, the per-element rounding vectorized on the AVX2 / AVX-512 tiers
// (the reference itself on the scalar tier).
QuantizedRows quantize_rows_fast(const float* x, int64_t m, int64_t k);

}  // namespace dsv4::kernels

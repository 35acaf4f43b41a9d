// Interface between the portable linear dispatcher (linear.cc) and the per-ISA column kernels
// (linear_avx2.cc, linear_avx512.cc, compiled with their own -m flags). The dispatcher quantizes
// and lays out the activations, splits the output columns over the thread pool and calls one of
// these per column range. Plain structs and pointers only: an ISA file must not instantiate
// shared inline code (the linker could keep its AVX-512 copy for the whole program).
#pragma once
#include <cstdint>

#include "kernels/linear.h"

namespace dsv4::kernels {

constexpr int kSimdLanes = 16;  // lanes of the canonical reduction order, on every tier

// Activation rows as the SIMD kernels read them: [m, stride] floats, stride a multiple of 16,
// zero past K. FP8/FP4: the quantized e4m3 values (unscaled) and one 2^e scale per 128-block; for
// FP4 each 32-block is stored as its 16 even-k values, then its 16 odd-k values (the order the
// packed nibbles decode in). bf16/f32: x itself, scales unused.
struct SimdActs {
  const float* vals = nullptr;
  const float* scales = nullptr;  // [m, n_blocks]
  int64_t m = 0, stride = 0, n_blocks = 0;
};

// Each kernel writes y[r * n + j] for every row r < a.m and column j in [j0, j1).
// `scratch` holds at least simd_scratch_floats(k) floats, private to the caller's thread.
struct SimdKernels {
  void (*fp8)(const SimdActs& a, const Fp8Matrix& w, int64_t j0, int64_t j1, float* y, float* scratch);
  void (*fp4)(const SimdActs& a, const Fp4Matrix& w, int64_t j0, int64_t j1, float* y, float* scratch);
  void (*bf16)(const SimdActs& a, const uint16_t* w, int64_t n, int64_t k, int64_t j0, int64_t j1, float* y,
               bool round_out);
  void (*f32)(const SimdActs& a, const float* w, int64_t n, int64_t k, int64_t j0, int64_t j1, float* y);
  // Rows [row0 + j0, row0 + j1) of an FP8 matrix used as dequantized fp32 weights in the bf16
  // order (linear_fp8_dequant); y is [m, n].
  void (*fp8_dequant)(const SimdActs& a, const Fp8Matrix& w, int64_t row0, int64_t n, int64_t j0, int64_t j1, float* y,
                      bool round_out, float* scratch);
  // out[j] = q . rows[j] (bf16 rows of `dim`, skipped when null), the bf16/f32 order; the rows
  // are also written as floats to rows_f32[j * dim ...] when that is not null.
  void (*row_dots)(const float* q, const uint16_t* const* rows, int64_t n_rows, int64_t dim, float* out,
                   float* rows_f32);
  // out[i] = the e4m3 value (as float) of clamp(x[i] * inv_scale, -448, 448), rounded to nearest
  // even with the subnormal step 2^-9: bitwise fp8_e4m3_table()[f32_to_fp8_e4m3(...)] (NaN too).
  // inv_scale is a power of two, so x * inv_scale == x / scale exactly.
  void (*fp8_quant_values)(const float* x, int64_t n, float inv_scale, float* out);
};

inline int64_t simd_stride(int64_t k) { return (k + kSimdLanes - 1) / kSimdLanes * kSimdLanes; }
// One decoded weight row (stride floats) plus its per-block scales.
inline int64_t simd_scratch_floats(int64_t k) { return simd_stride(k) + k / kFp4Block + 2 * kSimdLanes; }

#if defined(__x86_64__)
const SimdKernels& simd_kernels_avx2();
const SimdKernels& simd_kernels_avx512();
#endif

}  // namespace dsv4::kernels

// Small row-wise ops with the reference's rounding points (spec §2.0, §2.4, §2.5, §2.8).
// Arrays are floats holding bf16-representable values unless said otherwise.
#pragma once
#include <cstdint>

#include "tensor/bf16.h"

namespace dsv4::kernels {

// Sum of x[n] in the order PyTorch's CPU sum kernel uses for a contiguous float row: lanes of
// `vec_width` floats, four interleaved vector accumulators (cascaded every 16 steps), the four
// combined in order, then the lanes added one by one after the scalar tail. Matching this order
// matters where a sum feeds a bf16 rounding (RMS norms): it decides which values flip.
float torch_row_sum(const float* x, int64_t n, int vec_width);
// Sum of squares of x[n] in the same order (x.square().sum(-1)).
float torch_row_sum_squares(const float* x, int64_t n, int vec_width);
constexpr int kTorchVecWidth = 8;

// y = bf16(w * x * rsqrt(mean(x^2) + eps)), fp32 inside (x may alias y). w: bf16 [n].
void rms_norm(const float* x, const bf16* w, int64_t n, float eps, float* y);
// Unweighted per-head RMS norm in bf16 arithmetic, as PyTorch bf16 ops compute it: the square,
// the mean, the +eps (eps itself stays fp32: PyTorch's opmath), the rsqrt and the product are
// each rounded to bf16. In place on x[n].
void head_rms_norm_bf16(float* x, int64_t n, float eps);
// Rotates interleaved pairs (x[2i], x[2i+1]) by (cos[i], sin[i]) (sin negated for the inverse),
// fp32 complex multiply, result rounded to bf16. x has 2*n_pairs values.
void rope_rotate(float* x, const float* cos, const float* sin, int64_t n_pairs, bool inverse);
// Sylvester-order Walsh-Hadamard transform of x[n] (n a power of two) times `scale`, computed
// in fp32 and rounded to bf16 (fast_hadamard_transform on a bf16 tensor).
void hadamard_bf16(float* x, int64_t n, float scale);
inline float sigmoidf(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

}  // namespace dsv4::kernels

// Row-wise primitives of the trainer with their backward passes, in the reference's math but in
// full precision (no bf16 rounding points, no FP8 / FP4 simulation: the trainer keeps fp32 master
// weights and quantization happens at export, train/export.h). Templates over float (training) and
// double (the gradient checks).
#pragma once
#include <cmath>
#include <cstdint>

namespace dsv4::train {

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// RMSNorm of one row: y = x * r * w (w may be null: unweighted), r = 1/sqrt(mean(x^2) + eps).
// Returns r (the backward's only saved value besides x).
template <typename T>
T rmsnorm_fwd(const T* x, const T* w, int64_t d, T eps, T* y) {
  T ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += x[i] * x[i];
  const T r = T(1) / std::sqrt(ss / T(d) + eps);
  for (int64_t i = 0; i < d; ++i) y[i] = x[i] * r * (w ? w[i] : T(1));
  return r;
}
// dx += ..., dw += ... (dw may be null).
template <typename T>
void rmsnorm_bwd(const T* x, const T* w, T r, const T* dy, int64_t d, T* dx, T* dw) {
  T dot = 0;
  for (int64_t i = 0; i < d; ++i) {
    const T g = dy[i] * (w ? w[i] : T(1));
    dot += g * x[i];
    if (dw) dw[i] += dy[i] * x[i] * r;
  }
  const T c = dot * r * r * r / T(d);
  for (int64_t i = 0; i < d; ++i) dx[i] += dy[i] * (w ? w[i] : T(1)) * r - x[i] * c;
}

// Interleaved RoPE on pairs (2i, 2i+1) of x[0, 2*n_pairs): x <- x * exp(sign * i * angle_i).
// Its backward is the same rotation with the opposite sign.
template <typename T>
void rope_rotate(T* x, const float* cos, const float* sin, int64_t n_pairs, int sign) {
  for (int64_t i = 0; i < n_pairs; ++i) {
    const T c = cos[i], s = sign * T(sin[i]);
    const T re = x[2 * i], im = x[2 * i + 1];
    x[2 * i] = re * c - im * s;
    x[2 * i + 1] = re * s + im * c;
  }
}

// Orthonormal Walsh-Hadamard transform of n (a power of two) values in natural (Sylvester) order,
// scaled by 1/sqrt(n): symmetric and its own inverse, so it is also its own backward.
template <typename T>
void hadamard(T* x, int64_t n) {
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const T a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  const T s = T(1) / std::sqrt(T(n));
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

// PyTorch softplus (threshold 20) and the V4 router score sqrt(softplus(x)) with its derivative.
template <typename T>
inline T softplus(T x) {
  return x > T(20) ? x : std::log1p(std::exp(x));
}
template <typename T>
inline T sqrt_softplus_grad(T x, T s) {  // d sqrt(softplus(x)) / dx, given s = sqrt(softplus(x))
  return (x > T(20) ? T(1) : sigmoid(x)) / (T(2) * s);
}

}  // namespace dsv4::train

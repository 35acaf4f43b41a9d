// The CPU variants behind the public linears of kernels/linear.h, for tests and benchmarks.
//
// Every variant computes each output element y[r][j] in one fixed reduction order that depends
// only on K (never on m, on the other rows of the call, on the thread count or on the column
// partition): threads split output columns, never K.
//   * scalar: the first CPU path, the numerics reference (sequential sums, see linear_scalar.cc).
//   * avx2, avx512: one canonical SIMD order shared by both tiers, so they agree bitwise
//     (linear_simd_impl.h): 16 lane partials in the order of K, then a fixed pairwise tree.
// They differ from the scalar reference only by that summation order.
#pragma once
#include <cstdint>

#include "base/cpu_features.h"
#include "kernels/linear.h"

namespace dsv4::kernels {

// Below this many multiply-adds a call stays on the calling thread (hand-off cost dominates).
constexpr int64_t kParallelWork = int64_t{1} << 18;

struct LinearVariant {
  const char* name;
  void (*fp8)(const float* x, int64_t m, const Fp8Matrix& w, float* y);
  void (*fp4)(const float* x, int64_t m, const Fp4Matrix& w, float* y);
  void (*bf16)(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out);
  void (*f32)(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y);
  void (*fp8_dequant)(const float* x, int64_t m, const Fp8Matrix& w, int64_t row0, int64_t n_rows, float* y,
                      bool round_out);
};

// The variant of a tier, or nullptr when this CPU cannot run it (or DSV4_FORCE_CPU caps it lower).
const LinearVariant* linear_variant(CpuTier tier);
// The variant the public linears use: the one of cpu_features().tier, chosen once.
const LinearVariant& selected_linear_variant();

// Scalar reference implementations.
void linear_fp8_scalar(const float* x, int64_t m, const Fp8Matrix& w, float* y);
void linear_fp4_scalar(const float* x, int64_t m, const Fp4Matrix& w, float* y);
void linear_bf16_scalar(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out);
void linear_fp8_dequant_scalar(const float* x, int64_t m, const Fp8Matrix& w, int64_t row0, int64_t n_rows,
                               float* y, bool round_out);
void linear_f32_scalar(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y);

}  // namespace dsv4::kernels

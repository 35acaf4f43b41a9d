// Interface between the ggml linear dispatcher (linear_ggml.cc) and its per-ISA column kernels
// (linear_ggml_avx2.cc, linear_ggml_avx512.cc, compiled with their own -m flags). Plain pointers
// only, as in linear_simd.h: an ISA file must not instantiate shared inline code.
#pragma once
#include <cstdint>

#include "kernels/linear_ggml.h"

namespace dsv4::kernels {

constexpr int64_t kGgmlLanes = 16;                // lanes of the canonical order on every tier
constexpr int64_t kGgmlPanelCols = 16;            // GEMM: weight rows decoded per panel
inline int64_t ggml_stride(int64_t k) { return (k + kGgmlLanes - 1) / kGgmlLanes * kGgmlLanes; }
// Scratch floats a column kernel needs (one decoded panel), private to the calling thread.
inline int64_t ggml_scratch_floats(int64_t k) { return kGgmlPanelCols * ggml_stride(k); }

// y[r * w.rows + j] for r < m and j in [j0, j1). x is [m, stride] (stride = ggml_stride(K)), zero
// past K. Requires linear_ggml_supported(w.type) and K a whole number of the type's blocks.
using GgmlColumnsFn = void (*)(const float* x, int64_t m, int64_t stride, const GgmlMatrix& w, int64_t j0,
                               int64_t j1, float* y, bool round_out, float* scratch);

#if defined(__x86_64__)
GgmlColumnsFn ggml_columns_avx2();
GgmlColumnsFn ggml_columns_avx512();
#endif

}  // namespace dsv4::kernels

#include "kernels/attn_dot.h"

#include "base/cpu_features.h"
#include "kernels/linear_simd.h"

namespace dsv4::kernels {
namespace {

using RowDotsFn = void (*)(const float*, const uint16_t* const*, int64_t, int64_t, float*, float*);

RowDotsFn simd_row_dots() {
#if defined(__x86_64__)
  switch (cpu_features().tier) {
    case CpuTier::kAvx512: return simd_kernels_avx512().row_dots;
    case CpuTier::kAvx2: return simd_kernels_avx2().row_dots;
    default: break;
  }
#endif
  return nullptr;
}

}  // namespace

void bf16_row_dots_scalar(const float* q, const bf16* const* rows, int64_t n_rows, int64_t dim, float* out,
                          float* rows_f32) {
  for (int64_t j = 0; j < n_rows; ++j) {
    const bf16* r = rows[j];
    if (!r) continue;
    float dot = 0.0f;
    for (int64_t i = 0; i < dim; ++i) {
      const float v = bf16_to_f32(r[i]);
      if (rows_f32) rows_f32[j * dim + i] = v;
      dot += q[i] * v;
    }
    out[j] = dot;
  }
}

void bf16_row_dots(const float* q, const bf16* const* rows, int64_t n_rows, int64_t dim, float* out, float* rows_f32) {
  static const RowDotsFn simd = simd_row_dots();
  if (!simd) {
    bf16_row_dots_scalar(q, rows, n_rows, dim, out, rows_f32);
    return;
  }
  static_assert(sizeof(bf16) == sizeof(uint16_t));
  simd(q, reinterpret_cast<const uint16_t* const*>(rows), n_rows, dim, out, rows_f32);
}

}  // namespace dsv4::kernels

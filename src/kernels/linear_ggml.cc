// linear_ggml's dispatcher: picks the variant of the CPU tier once, pads the activation rows for
// the SIMD kernels and splits the output columns over the thread pool (never K, so each output's
// order depends only on K; see linear_ggml.h).
#include "kernels/linear_ggml.h"

#include <algorithm>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/linear_ggml_simd.h"
#include "kernels/linear_variants.h"
#include "kernels/variant_select.h"
#include "tensor/ggml_quants.h"

namespace dsv4::kernels {
namespace {

// The SIMD tiers: x copied to rows of ggml_stride(K) floats, zero past K (the canonical order's
// tail), then fn over column ranges: on the pool when the call is big enough, else right here.
template <GgmlColumnsFn (*Get)()>
void simd_linear(const float* x, int64_t m, const GgmlMatrix& w, float* y, bool round_out) {
  if (m <= 0 || w.rows <= 0) return;
  const int64_t k = w.cols, stride = ggml_stride(k);
  std::vector<float> xp(static_cast<size_t>(m * stride), 0.0f);
  for (int64_t r = 0; r < m; ++r) std::copy(x + r * k, x + (r + 1) * k, xp.data() + r * stride);
  const GgmlColumnsFn fn = Get();
  auto part = [&](int64_t j0, int64_t j1) {
    std::vector<float> scratch(m > 1 ? static_cast<size_t>(ggml_scratch_floats(k)) : 0);
    fn(xp.data(), m, stride, w, j0, j1, y, round_out, scratch.data());
  };
  if (m * w.rows * k > kParallelWork) {
    parallel_for(w.rows, part);
  } else {
    part(0, w.rows);
  }
}

constexpr GgmlLinearVariant kScalar = {"scalar", &linear_ggml_scalar};
#if defined(__x86_64__)
constexpr GgmlLinearVariant kAvx2 = {"avx2", &simd_linear<ggml_columns_avx2>};
constexpr GgmlLinearVariant kAvx512 = {"avx512", &simd_linear<ggml_columns_avx512>};
#endif

}  // namespace

// Every type with an exact decoder has a codec in each SIMD tier (linear_ggml_simd_impl.h) and
// the scalar reference decodes through the decoder itself.
bool linear_ggml_supported(GgmlType t) { return ggml_type_dequantizable(t); }

#if defined(__x86_64__)
constexpr const GgmlLinearVariant* kAvx2Ptr = &kAvx2;
constexpr const GgmlLinearVariant* kAvx512Ptr = &kAvx512;
#else
constexpr const GgmlLinearVariant* kAvx2Ptr = nullptr;
constexpr const GgmlLinearVariant* kAvx512Ptr = nullptr;
#endif

const GgmlLinearVariant* linear_ggml_variant(CpuTier tier) { return variant_for_tier(tier, &kScalar, kAvx2Ptr, kAvx512Ptr); }

const GgmlLinearVariant& selected_linear_ggml_variant() {
  static const GgmlLinearVariant& v = best_variant(&kScalar, kAvx2Ptr, kAvx512Ptr);
  return v;
}

void linear_ggml(const float* x, int64_t m, const GgmlMatrix& w, float* y, bool round_out) {
  selected_linear_ggml_variant().run(x, m, w, y, round_out);
}

}  // namespace dsv4::kernels

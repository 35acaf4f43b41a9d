// Public linears: pick the variant of the CPU tier once, lay out the activations for the SIMD
// kernels and split the output columns over the thread pool (never K: see linear_variants.h).
#include "kernels/linear.h"

#include <algorithm>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/act_quant.h"
#include "kernels/linear_simd.h"
#include "kernels/linear_variants.h"
#include "kernels/variant_select.h"
#include "tensor/fp8.h"

namespace dsv4::kernels {
namespace {

// SimdActs plus the storage behind it.
struct SimdActsBuffer {
  std::vector<float> vals, scales;
  SimdActs view;
};

// FP8-quantized rows (the same quantization as the scalar reference) in the SIMD layout.
SimdActsBuffer prepare_quantized(const float* x, int64_t m, int64_t k, bool fp4_layout) {
  QuantizedRows q = quantize_rows_fast(x, m, k);
  SimdActsBuffer b;
  const int64_t stride = simd_stride(k);
  b.vals.assign(m * stride, 0.0f);
  for (int64_t r = 0; r < m; ++r) {
    const float* src = &q.vals[r * k];
    float* dst = &b.vals[r * stride];
    if (!fp4_layout) {
      std::copy(src, src + k, dst);
      continue;
    }
    for (int64_t s = 0; s < k; s += kFp4Block)  // per 32-block: the even-k values, then the odd-k
      for (int i = 0; i < kFp4Block / 2; ++i) {
        dst[s + i] = src[s + 2 * i];
        dst[s + kFp4Block / 2 + i] = src[s + 2 * i + 1];
      }
  }
  b.scales = std::move(q.scales);
  b.view = {b.vals.data(), b.scales.data(), m, stride, q.n_blocks};
  return b;
}

SimdActsBuffer prepare_dense(const float* x, int64_t m, int64_t k) {
  SimdActsBuffer b;
  const int64_t stride = simd_stride(k);
  b.vals.assign(m * stride, 0.0f);
  for (int64_t r = 0; r < m; ++r) std::copy(x + r * k, x + (r + 1) * k, &b.vals[r * stride]);
  b.view = {b.vals.data(), nullptr, m, stride, 0};
  return b;
}

// Runs fn(j0, j1, scratch) over output columns [0, n), on the pool when the call is big enough.
// Only the FP8/FP4 GEMMs (m > 1) use the scratch row.
template <typename Fn>
void for_column_ranges(int64_t m, int64_t n, int64_t k, bool quantized, Fn&& fn) {
  auto part = [&](int64_t j0, int64_t j1) {
    std::vector<float> scratch(quantized && m > 1 ? simd_scratch_floats(k) : 0);
    fn(j0, j1, scratch.data());
  };
  if (m * n * k > kParallelWork) {
    parallel_for(n, part);
  } else {
    part(0, n);
  }
}

template <const SimdKernels& (*K)()>
void simd_fp8(const float* x, int64_t m, const Fp8Matrix& w, float* y) {
  if (m <= 0 || w.rows <= 0) return;
  const SimdActsBuffer a = prepare_quantized(x, m, w.cols, false);
  for_column_ranges(m, w.rows, w.cols, true,
                    [&](int64_t j0, int64_t j1, float* s) { K().fp8(a.view, w, j0, j1, y, s); });
}

template <const SimdKernels& (*K)()>
void simd_fp4(const float* x, int64_t m, const Fp4Matrix& w, float* y) {
  if (m <= 0 || w.rows <= 0) return;
  const SimdActsBuffer a = prepare_quantized(x, m, w.cols, true);
  for_column_ranges(m, w.rows, w.cols, true,
                    [&](int64_t j0, int64_t j1, float* s) { K().fp4(a.view, w, j0, j1, y, s); });
}

template <const SimdKernels& (*K)()>
void simd_bf16(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out) {
  if (m <= 0 || n <= 0) return;
  const SimdActsBuffer a = prepare_dense(x, m, k);
  static_assert(sizeof(bf16) == sizeof(uint16_t));
  const auto* wb = reinterpret_cast<const uint16_t*>(w);
  for_column_ranges(m, n, k, false,
                    [&](int64_t j0, int64_t j1, float*) { K().bf16(a.view, wb, n, k, j0, j1, y, round_out); });
}

template <const SimdKernels& (*K)()>
void simd_f32(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
  if (m <= 0 || n <= 0) return;
  const SimdActsBuffer a = prepare_dense(x, m, k);
  for_column_ranges(m, n, k, false, [&](int64_t j0, int64_t j1, float*) { K().f32(a.view, w, n, k, j0, j1, y); });
}

template <const SimdKernels& (*K)()>
void simd_fp8_dequant(const float* x, int64_t m, const Fp8Matrix& w, int64_t row0, int64_t n_rows, float* y,
                      bool round_out) {
  if (m <= 0 || n_rows <= 0) return;
  const SimdActsBuffer a = prepare_dense(x, m, w.cols);
  for_column_ranges(m, n_rows, w.cols, true, [&](int64_t j0, int64_t j1, float* s) {
    K().fp8_dequant(a.view, w, row0, n_rows, j0, j1, y, round_out, s);
  });
}

constexpr LinearVariant kScalar = {"scalar", &linear_fp8_scalar, &linear_fp4_scalar, &linear_bf16_scalar,
                                   &linear_f32_scalar, &linear_fp8_dequant_scalar};
#if defined(__x86_64__)
constexpr LinearVariant kAvx2 = {"avx2", &simd_fp8<simd_kernels_avx2>, &simd_fp4<simd_kernels_avx2>,
                                 &simd_bf16<simd_kernels_avx2>, &simd_f32<simd_kernels_avx2>,
                                 &simd_fp8_dequant<simd_kernels_avx2>};
constexpr LinearVariant kAvx512 = {"avx512", &simd_fp8<simd_kernels_avx512>, &simd_fp4<simd_kernels_avx512>,
                                   &simd_bf16<simd_kernels_avx512>, &simd_f32<simd_kernels_avx512>,
                                   &simd_fp8_dequant<simd_kernels_avx512>};
#endif

}  // namespace

#if defined(__x86_64__)
constexpr const LinearVariant* kAvx2Ptr = &kAvx2;
constexpr const LinearVariant* kAvx512Ptr = &kAvx512;
#else
constexpr const LinearVariant* kAvx2Ptr = nullptr;
constexpr const LinearVariant* kAvx512Ptr = nullptr;
#endif

const LinearVariant* linear_variant(CpuTier tier) { return variant_for_tier(tier, &kScalar, kAvx2Ptr, kAvx512Ptr); }

const LinearVariant& selected_linear_variant() {
  static const LinearVariant& v = best_variant(&kScalar, kAvx2Ptr, kAvx512Ptr);
  return v;
}

void linear_fp8(const float* x, int64_t m, const Fp8Matrix& w, float* y) { selected_linear_variant().fp8(x, m, w, y); }
void linear_fp4(const float* x, int64_t m, const Fp4Matrix& w, float* y) { selected_linear_variant().fp4(x, m, w, y); }
void linear_bf16(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out) {
  selected_linear_variant().bf16(x, m, w, n, k, y, round_out);
}
void linear_f32(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
  selected_linear_variant().f32(x, m, w, n, k, y);
}

void linear_fp8_dequant(const float* x, int64_t m, const Fp8Matrix& w, int64_t row0, int64_t n_rows, float* y,
                        bool round_out) {
  selected_linear_variant().fp8_dequant(x, m, w, row0, n_rows, y, round_out);
}

void dequantize_fp8_to_bf16(const Fp8Matrix& w, bf16* out) {
  const int64_t kb = (w.cols + kWeightBlock - 1) / kWeightBlock;
  const float* table = fp8_e4m3_table();
  for (int64_t j = 0; j < w.rows; ++j)
    for (int64_t i = 0; i < w.cols; ++i) {
      const float s = ue8m0_to_f32(w.scales[(j / kWeightBlock) * kb + i / kWeightBlock]);
      out[j * w.cols + i] = f32_to_bf16(table[w.codes[j * w.cols + i]] * s);
    }
}

}  // namespace dsv4::kernels

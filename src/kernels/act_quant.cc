#include "kernels/act_quant.h"

#include <algorithm>
#include <cmath>

#include "base/cpu_features.h"
#include "kernels/linear.h"
#include "kernels/linear_simd.h"
#include "tensor/fp8.h"
#include "tensor/quant.h"

namespace dsv4::kernels {

QuantizedRows quantize_rows(const float* x, int64_t m, int64_t k) {
  QuantizedRows q;
  q.n_blocks = (k + kActBlock - 1) / kActBlock;
  q.vals.resize(m * k);
  q.scales.resize(m * q.n_blocks);
  std::vector<uint8_t> codes(k);
  std::vector<int8_t> exps(q.n_blocks);
  const float* table = fp8_e4m3_table();
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t b = 0; b < q.n_blocks; ++b) {
      const int64_t len = std::min<int64_t>(kActBlock, k - b * kActBlock);
      fp8_quantize(x + r * k + b * kActBlock, len, len, codes.data() + b * kActBlock, exps.data() + b);
      q.scales[r * q.n_blocks + b] = pow2f(exps[b]);
    }
    for (int64_t i = 0; i < k; ++i) q.vals[r * k + i] = table[codes[i]];
  }
  return q;
}

namespace {

using QuantValuesFn = void (*)(const float* x, int64_t n, float inv_scale, float* out);

QuantValuesFn simd_quant_values() {
#if defined(__x86_64__)
  switch (cpu_features().tier) {
    case CpuTier::kAvx512: return simd_kernels_avx512().fp8_quant_values;
    case CpuTier::kAvx2: return simd_kernels_avx2().fp8_quant_values;
    default: break;
  }
#endif
  return nullptr;
}

// As tensor/quant.cc's block amax (std::max skips NaN the same way).
float block_amax(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

}  // namespace

QuantizedRows quantize_rows_fast(const float* x, int64_t m, int64_t k) {
  static const QuantValuesFn simd = simd_quant_values();
  if (!simd) return quantize_rows(x, m, k);
  QuantizedRows q;
  q.n_blocks = (k + kActBlock - 1) / kActBlock;
  q.vals.resize(m * k);
  q.scales.resize(m * q.n_blocks);
  const float* table = fp8_e4m3_table();
  for (int64_t r = 0; r < m; ++r)
    for (int64_t b = 0; b < q.n_blocks; ++b) {
      const int64_t i0 = r * k + b * kActBlock, len = std::min<int64_t>(kActBlock, k - b * kActBlock);
      const float amax = std::max(block_amax(x + i0, len), kFp8AmaxFloor);
      const int e = ue8m0_ceil_exponent(amax, 1.0f / kFp8Max);
      const float s = pow2f(e);
      // Stored as the reference stores it: through fp8_quantize's int8 exponent (an infinite
      // amax gives e = 128, which wraps to -128 there).
      q.scales[r * q.n_blocks + b] = pow2f(static_cast<int8_t>(e));
      if (e >= -126 && e <= 126) {  // x * 2^-e is then exactly x / s
        simd(x + i0, len, pow2f(-e), &q.vals[i0]);
      } else {  // only for an infinite amax: keep the reference's x / inf
        for (int64_t i = 0; i < len; ++i)
          q.vals[i0 + i] = table[f32_to_fp8_e4m3(std::clamp(x[i0 + i] / s, -kFp8Max, kFp8Max))];
      }
    }
  return q;
}

}  // namespace dsv4::kernels

// The scalar reference of linear_ggml: each weight row decoded with dequantize_ggml_row (the exact
// ggml values), then a sequential fp32 dot over K per activation row. The numerics ground truth
// the SIMD tiers are tested against; they differ from it only by summation order.
#include <vector>

#include "kernels/linear_ggml.h"
#include "tensor/bf16.h"
#include "tensor/ggml_quants.h"

namespace dsv4::kernels {

void linear_ggml_scalar(const float* x, int64_t m, const GgmlMatrix& w, float* y, bool round_out) {
  const int64_t n = w.rows, k = w.cols;
  std::vector<float> wd(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    dequantize_ggml_row(w.type, w.data + j * w.row_bytes, wd.data(), k);
    for (int64_t r = 0; r < m; ++r) {
      const float* xr = x + r * k;
      float s = 0.0f;
      for (int64_t i = 0; i < k; ++i) {
        const float p = xr[i] * wd[i];  // two roundings: never contracted into an FMA
        s = s + p;
      }
      y[r * n + j] = round_out ? round_bf16(s) : s;
    }
  }
}

}  // namespace dsv4::kernels

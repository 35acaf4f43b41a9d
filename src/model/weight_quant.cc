#include "model/weight_quant.h"

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/quant.h"

namespace dsv4 {
namespace {

uint8_t e8m0_byte(int e) { return static_cast<uint8_t>(std::clamp(e + 127, 0, 254)); }

}  // namespace

void quantize_fp8(const std::vector<float>& w, int64_t rows, int64_t cols, int br, int bc, TensorBlob* weight,
                  TensorBlob* scale) {
  const int64_t sr = (rows + br - 1) / br, sc = (cols + bc - 1) / bc;
  weight->bytes.assign(static_cast<size_t>(rows * cols), 0);
  scale->bytes.assign(static_cast<size_t>(sr * sc), 0);
  parallel_for(sr, [&](int64_t bi0, int64_t bi1) {
    for (int64_t bi = bi0; bi < bi1; ++bi)
      for (int64_t bj = 0; bj < sc; ++bj) {
        const int64_t r1 = std::min(rows, (bi + 1) * br), c1 = std::min(cols, (bj + 1) * bc);
        float amax = kFp8AmaxFloor;
        for (int64_t r = bi * br; r < r1; ++r)
          for (int64_t c = bj * bc; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
        const int e = ue8m0_ceil_exponent(amax, 1.0f / kFp8Max);
        const float inv_s = pow2f(-e);
        scale->bytes[bi * sc + bj] = e8m0_byte(e);
        for (int64_t r = bi * br; r < r1; ++r)
          for (int64_t c = bj * bc; c < c1; ++c)
            weight->bytes[r * cols + c] = f32_to_fp8_e4m3(std::clamp(w[r * cols + c] * inv_s, -kFp8Max, kFp8Max));
      }
  });
}

void quantize_fp4(const std::vector<float>& w, int64_t rows, int64_t cols, int block, TensorBlob* weight,
                  TensorBlob* scale) {
  weight->bytes.assign(static_cast<size_t>(rows * cols / 2), 0);
  scale->bytes.assign(static_cast<size_t>(rows * (cols / block)), 0);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> codes(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = &w[r * cols];
      for (int64_t k = 0; k < cols; k += block) {
        float amax = kFp4AmaxFloor;
        for (int64_t i = k; i < k + block; ++i) amax = std::max(amax, std::fabs(row[i]));
        const int e = ue8m0_ceil_exponent(amax, 1.0f / kFp4Max);
        const float inv_s = pow2f(-e);
        scale->bytes[r * (cols / block) + k / block] = e8m0_byte(e);
        for (int64_t i = k; i < k + block; ++i) codes[i] = f32_to_fp4_e2m1(std::clamp(row[i] * inv_s, -kFp4Max, kFp4Max));
      }
      for (int64_t c = 0; c < cols / 2; ++c) weight->bytes[r * (cols / 2) + c] = fp4_pack(codes[2 * c], codes[2 * c + 1]);
    }
  });
}

}  // namespace dsv4

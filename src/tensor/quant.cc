#include "tensor/quant.h"

#include <algorithm>
#include <cmath>

#include "tensor/bf16.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"

namespace dsv4 {
namespace {

float block_amax(const float* x, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

}  // namespace

void fp8_roundtrip(float* x, size_t n, size_t block) {
  const float* table = fp8_e4m3_table();
  for (size_t b = 0; b < n; b += block) {
    const float amax = std::max(block_amax(x + b, block), kFp8AmaxFloor);
    const float s = pow2f(ue8m0_ceil_exponent(amax, 1.0f / kFp8Max));
    for (size_t i = b; i < b + block; ++i) {
      const float q = table[f32_to_fp8_e4m3(std::clamp(x[i] / s, -kFp8Max, kFp8Max))];
      x[i] = round_bf16(q * s);
    }
  }
}

void fp4_roundtrip(float* x, size_t n, size_t block) {
  for (size_t b = 0; b < n; b += block) {
    const float amax = std::max(block_amax(x + b, block), kFp4AmaxFloor);
    const float s = pow2f(ue8m0_ceil_exponent(amax, 1.0f / kFp4Max));
    for (size_t i = b; i < b + block; ++i) {
      const float q = fp4_e2m1_to_f32(f32_to_fp4_e2m1(std::clamp(x[i] / s, -kFp4Max, kFp4Max)));
      x[i] = round_bf16(q * s);
    }
  }
}

void fp8_quantize(const float* x, size_t n, size_t block, uint8_t* q, int8_t* exps) {
  for (size_t b = 0, k = 0; b < n; b += block, ++k) {
    const float amax = std::max(block_amax(x + b, block), kFp8AmaxFloor);
    const int e = ue8m0_ceil_exponent(amax, 1.0f / kFp8Max);
    const float s = pow2f(e);
    exps[k] = static_cast<int8_t>(e);
    for (size_t i = b; i < b + block; ++i) q[i] = f32_to_fp8_e4m3(std::clamp(x[i] / s, -kFp8Max, kFp8Max));
  }
}

}  // namespace dsv4

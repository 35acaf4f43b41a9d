#include "kernels/linear.h"

#include <algorithm>
#include <vector>

#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/quant.h"

namespace dsv4::kernels {
namespace {

// Below this many multiply-adds a call stays on the calling thread (thread start-up dominates).
constexpr int64_t kParallelWork = int64_t{1} << 22;

// Activation rows quantized to FP8 (values as unscaled floats) with one scale per 128-block.
struct QuantizedRows {
  int64_t n_blocks = 0;
  std::vector<float> vals;    // [m, k]
  std::vector<float> scales;  // [m, n_blocks]
};

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

// Both nibbles of every packed FP4 byte as floats: [256][2] = {low (even k), high (odd k)}.
const float* fp4_pair_table() {
  static const std::vector<float> t = [] {
    std::vector<float> v(512);
    for (int b = 0; b < 256; ++b) {
      v[2 * b] = fp4_e2m1_to_f32(fp4_low(static_cast<uint8_t>(b)));
      v[2 * b + 1] = fp4_e2m1_to_f32(fp4_high(static_cast<uint8_t>(b)));
    }
    return v;
  }();
  return t.data();
}

}  // namespace

void linear_fp8(const float* x, int64_t m, const Fp8Matrix& w, float* y) {
  const int64_t n = w.rows, k = w.cols;
  const int64_t kb = (k + kWeightBlock - 1) / kWeightBlock;
  const float* table = fp8_e4m3_table();
  const QuantizedRows a = quantize_rows(x, m, k);
#pragma omp parallel if (m * n * k > kParallelWork)
  {
    std::vector<float> acc(m), wv(kWeightBlock);  // per thread, reused for every output column
#pragma omp for schedule(static)
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* wr = w.codes + j * k;
      const uint8_t* ws = w.scales + (j / kWeightBlock) * kb;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t b = 0; b < kb; ++b) {
        const int64_t k0 = b * kWeightBlock, len = std::min<int64_t>(k - k0, kWeightBlock);
        for (int64_t i = 0; i < len; ++i) wv[i] = table[wr[k0 + i]];
        const float sw = ue8m0_to_f32(ws[b]);
        for (int64_t r = 0; r < m; ++r) {
          const float* ar = &a.vals[r * k + k0];
          float inner = 0.0f;
          for (int64_t i = 0; i < len; ++i) inner += ar[i] * wv[i];
          acc[r] += inner * (a.scales[r * a.n_blocks + k0 / kActBlock] * sw);
        }
      }
      for (int64_t r = 0; r < m; ++r) y[r * n + j] = round_bf16(acc[r]);
    }
  }
}

void linear_fp4(const float* x, int64_t m, const Fp4Matrix& w, float* y) {
  const int64_t n = w.rows, k = w.cols;
  const int64_t sb = k / kFp4Block;
  const QuantizedRows a = quantize_rows(x, m, k);
  const float* pairs = fp4_pair_table();
#pragma omp parallel if (m * n * k > kParallelWork)
  {
    std::vector<float> acc(m);  // per thread, reused for every output column
    float wv[kFp4Block];
#pragma omp for schedule(static)
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* wr = w.packed + j * (k / 2);
      const uint8_t* ws = w.scales + j * sb;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t b = 0; b < sb; ++b) {
        for (int i = 0; i < kFp4Block; i += 2) {
          const float* pr = pairs + 2 * wr[(b * kFp4Block + i) / 2];
          wv[i] = pr[0];
          wv[i + 1] = pr[1];
        }
        const float sw = ue8m0_to_f32(ws[b]);
        for (int64_t r = 0; r < m; ++r) {
          const float* ab = &a.vals[r * k + b * kFp4Block];
          float inner = 0.0f;
          for (int i = 0; i < kFp4Block; ++i) inner += ab[i] * wv[i];
          acc[r] += inner * (a.scales[r * a.n_blocks + (b * kFp4Block) / kActBlock] * sw);
        }
      }
      for (int64_t r = 0; r < m; ++r) y[r * n + j] = round_bf16(acc[r]);
    }
  }
}

void linear_bf16(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out) {
#pragma omp parallel for schedule(static) if (m * n * k > kParallelWork)
  for (int64_t j = 0; j < n; ++j) {
    const bf16* wr = w + j * k;
    for (int64_t r = 0; r < m; ++r) {
      const float* xr = x + r * k;
      float acc = 0.0f;
      for (int64_t i = 0; i < k; ++i) acc += xr[i] * bf16_to_f32(wr[i]);
      y[r * n + j] = round_out ? round_bf16(acc) : acc;
    }
  }
}

void linear_f32(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = x + r * k;
    float* yr = y + r * n;
    for (int64_t j = 0; j < n; ++j) {
      const float* wr = w + j * k;
      float acc = 0.0f;
      for (int64_t i = 0; i < k; ++i) acc += xr[i] * wr[i];
      yr[j] = acc;
    }
  }
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

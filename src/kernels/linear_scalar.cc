// The scalar reference linears: the first CPU path, kept unchanged in numerics as the reference
// the SIMD variants are tested against (and the variant DSV4_FORCE_CPU=scalar runs). Per output:
// FP8/FP4 sum each weight block sequentially, scale the block sum and add it to an fp32
// accumulator; bf16/f32 accumulate sequentially along K.
#include <algorithm>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/act_quant.h"
#include "kernels/linear_variants.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"

namespace dsv4::kernels {
namespace {

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

// Runs fn(j0, j1) over output columns [0, n), on the pool when the call is big enough.
template <typename Fn>
void for_columns(int64_t m, int64_t n, int64_t k, Fn&& fn) {
  if (m * n * k > kParallelWork) {
    parallel_for(n, fn);
  } else {
    fn(int64_t{0}, n);
  }
}

}  // namespace

void linear_fp8_scalar(const float* x, int64_t m, const Fp8Matrix& w, float* y) {
  const int64_t n = w.rows, k = w.cols;
  const int64_t kb = (k + kWeightBlock - 1) / kWeightBlock;
  const float* table = fp8_e4m3_table();
  const QuantizedRows a = quantize_rows(x, m, k);
  for_columns(m, n, k, [&](int64_t j0, int64_t j1) {
    std::vector<float> acc(m), wv(kWeightBlock);  // per part, reused for every output column
    for (int64_t j = j0; j < j1; ++j) {
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
  });
}

void linear_fp4_scalar(const float* x, int64_t m, const Fp4Matrix& w, float* y) {
  const int64_t n = w.rows, k = w.cols;
  const int64_t sb = k / kFp4Block;
  const QuantizedRows a = quantize_rows(x, m, k);
  const float* pairs = fp4_pair_table();
  for_columns(m, n, k, [&](int64_t j0, int64_t j1) {
    std::vector<float> acc(m);  // per part, reused for every output column
    float wv[kFp4Block];
    for (int64_t j = j0; j < j1; ++j) {
      const uint8_t* wr = w.packed + j * (w.mxfp4 ? sb * kMxfp4BlockBytes : k / 2);
      const uint8_t* ws = w.scales + j * sb;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t b = 0; b < sb; ++b) {
        float sw;
        if (w.mxfp4) {  // element i < 16: low nibble of byte i; element i + 16: its high nibble
          const uint8_t* blk = wr + b * kMxfp4BlockBytes;
          for (int i = 0; i < kFp4Block / 2; ++i) {
            wv[i] = pairs[2 * blk[1 + i]];
            wv[i + kFp4Block / 2] = pairs[2 * blk[1 + i] + 1];
          }
          sw = ue8m0_to_f32(blk[0]);
        } else {
          for (int i = 0; i < kFp4Block; i += 2) {
            const float* pr = pairs + 2 * wr[(b * kFp4Block + i) / 2];
            wv[i] = pr[0];
            wv[i + 1] = pr[1];
          }
          sw = ue8m0_to_f32(ws[b]);
        }
        for (int64_t r = 0; r < m; ++r) {
          const float* ab = &a.vals[r * k + b * kFp4Block];
          float inner = 0.0f;
          for (int i = 0; i < kFp4Block; ++i) inner += ab[i] * wv[i];
          acc[r] += inner * (a.scales[r * a.n_blocks + (b * kFp4Block) / kActBlock] * sw);
        }
      }
      for (int64_t r = 0; r < m; ++r) y[r * n + j] = round_bf16(acc[r]);
    }
  });
}

void linear_bf16_scalar(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out) {
  for_columns(m, n, k, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const bf16* wr = w + j * k;
      for (int64_t r = 0; r < m; ++r) {
        const float* xr = x + r * k;
        float acc = 0.0f;
        for (int64_t i = 0; i < k; ++i) acc += xr[i] * bf16_to_f32(wr[i]);
        y[r * n + j] = round_out ? round_bf16(acc) : acc;
      }
    }
  });
}

void linear_fp8_dequant_scalar(const float* x, int64_t m, const Fp8Matrix& w, int64_t row0, int64_t n_rows,
                               float* y, bool round_out) {
  const int64_t k = w.cols, kb = (k + kWeightBlock - 1) / kWeightBlock;
  const float* table = fp8_e4m3_table();
  for_columns(m, n_rows, k, [&](int64_t j0, int64_t j1) {
    std::vector<float> wr(static_cast<size_t>(k));
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t row = row0 + j;
      for (int64_t i = 0; i < k; ++i)
        wr[i] = table[w.codes[row * k + i]] * ue8m0_to_f32(w.scales[(row / kWeightBlock) * kb + i / kWeightBlock]);
      for (int64_t r = 0; r < m; ++r) {
        const float* xr = x + r * k;
        float acc = 0.0f;
        for (int64_t i = 0; i < k; ++i) acc += xr[i] * wr[i];
        y[r * n_rows + j] = round_out ? round_bf16(acc) : acc;
      }
    }
  });
}

void linear_f32_scalar(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y) {
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

}  // namespace dsv4::kernels

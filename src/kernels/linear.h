// Linear layers with the reference's numerics (spec §2.0, §2.11). Kernels know nothing about V4:
// they take dims and pointers. Activations are float arrays holding bf16-representable values.
// Every output element is computed by one thread in a fixed order, so results do not depend on
// the number of rows in a call (prefill chunking, batching) or on the thread count. The CPU
// variant (scalar reference, AVX2, AVX-512) is chosen once from cpu_features(); see
// kernels/linear_variants.h for the variants and their reduction orders. Threads: base/thread_pool.h.
#pragma once
#include <cstdint>

#include "tensor/bf16.h"

namespace dsv4::kernels {

// FP8 e4m3 weight [rows=N, cols=K] with UE8M0 block scales [ceil(N/128), ceil(K/128)].
struct Fp8Matrix {
  const uint8_t* codes = nullptr;
  const uint8_t* scales = nullptr;
  int64_t rows = 0, cols = 0;
};

// FP4 e2m1 weight, packed [N, K/2] (low nibble = even k) with UE8M0 scales [N, K/32].
// With `mxfp4` set, the same codes and scales in ggml's MXFP4 blocks instead (a GGUF file's routed
// experts, read in place): `packed` holds N rows of K/32 blocks of 17 bytes, the scale byte then
// 16 bytes whose low nibbles are elements 0..15 and high nibbles 16..31; `scales` is unused. The
// values, and so the results, are bitwise the same as for the checkpoint layout.
struct Fp4Matrix {
  const uint8_t* packed = nullptr;
  const uint8_t* scales = nullptr;
  int64_t rows = 0, cols = 0;
  bool mxfp4 = false;
};
constexpr int kMxfp4BlockBytes = 17;

constexpr int kActBlock = 128;   // activation quantization block along K
constexpr int kWeightBlock = 128;  // FP8 weight scale block (both dims)
constexpr int kFp4Block = 32;    // FP4 weight scale block along K

// y[M,N] = bf16(act_quant(x)[M,K] @ W^T): x is quantized per row in blocks of 128 to FP8 with a
// power-of-two scale; per 128-block along K the fp32 dot of the FP8 values is scaled by
// scale_a * scale_w and accumulated in fp32.
void linear_fp8(const float* x, int64_t m, const Fp8Matrix& w, float* y);
// Same with FP4 weights: the dot runs over 32-wide sub-blocks, each scaled by
// scale_a[k/128] * scale_w[n][k/32].
void linear_fp4(const float* x, int64_t m, const Fp4Matrix& w, float* y);
// y[M,N] = x[M,K] @ W^T with W bf16 [N,K], fp32 accumulation; rounded to bf16 if round_out.
void linear_bf16(const float* x, int64_t m, const bf16* w, int64_t n, int64_t k, float* y, bool round_out);
// y[M,N] = x[M,K] @ W^T with W fp32 [N,K], fp32 accumulation.
void linear_f32(const float* x, int64_t m, const float* w, int64_t n, int64_t k, float* y);

// y[M, n_rows] = x[M,K] @ dequant(W rows [row0, row0 + n_rows))^T: the bf16 linear over the FP8
// weights without a bf16 copy (wo_a). Each weight is decoded as e4m3 value * block scale in fp32
// and used in linear_bf16's order, so the result is bitwise linear_bf16 over
// dequantize_fp8_to_bf16(W) whenever every dequantized weight is a normal float (it is then exact
// in bf16: an e4m3 value has 4 significant bits). row0 need not be a multiple of the scale block.
void linear_fp8_dequant(const float* x, int64_t m, const Fp8Matrix& w, int64_t row0, int64_t n_rows, float* y,
                        bool round_out);

// Dequantizes an FP8 block-scaled matrix to bf16 (exact): the reference's route for wo_a, kept as
// the parity reference of linear_fp8_dequant.
void dequantize_fp8_to_bf16(const Fp8Matrix& w, bf16* out);

}  // namespace dsv4::kernels

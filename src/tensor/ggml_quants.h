// Scalar reference conversions between ggml's block formats and this engine's formats: the
// ground truth the GGUF loader and writer use and that fast kernels are tested against.
//   * Q8_0: 32 int8 codes and one fp16 scale d per block (x = d * q), quantized like ggml's
//     quantize_row_q8_0_ref (d = amax / 127, q = round(x / d)).
//   * MXFP4: per 32 values one UE8M0 byte then 16 bytes, byte j = value j (low nibble) and value
//     j + 16 (high nibble), e2m1 codes. The checkpoint's FP4 experts hold the same codes and
//     scales with values 2i / 2i+1 in the low / high nibble of byte i: repacking is lossless.
//     Decoded as ggml does (int 2*e2m1 times 2^(e-128)): the same values as e2m1 * 2^(e-127),
//     except that code 8 gives +0 (not -0) and e = 255 gives 2^127 (not NaN).
//   * Q4_K, Q6_K, Q2_K, IQ2_XXS: 256-value super-blocks, decoded bitwise as ggml's
//     dequantize_row_* (same fp32 operations in the same order; tables in ggml_iq2_tables.h).
//   * Q4_0, Q4_1, Q5_0, Q5_1: the 32-value types llama.cpp's quantizer falls back to for rows
//     that are not a multiple of 256 (e.g. a Q4_K file's 128-wide rows), decoded the same way.
//   * FP8 recovery: BF16 / F32 values that are exactly e4m3 x UE8M0 per 128x128 block (what a
//     lossless conversion of an FP8 checkpoint stores) are turned back into codes and scales.
#pragma once
#include <cstdint>

#include "tensor/ggml_type.h"

namespace dsv4 {

// dst[n] = the values of one row of n elements (n a multiple of the type's block). Returns false
// for types without a reference here (the caller names the tensor in its error).
bool dequantize_ggml_row(GgmlType t, const uint8_t* src, float* dst, int64_t n);
bool ggml_type_dequantizable(GgmlType t);

void quantize_row_q8_0(const float* x, uint8_t* out, int64_t n);  // n % 32 == 0; 34 bytes per 32

// One row of n values (n % 32 == 0): checkpoint FP4 (n/2 packed bytes + n/32 scales) <-> MXFP4.
void fp4_row_to_mxfp4(const uint8_t* packed, const uint8_t* scales, int64_t n, uint8_t* out);
void mxfp4_row_to_fp4(const uint8_t* in, int64_t n, uint8_t* packed, uint8_t* scales);

// w is [rows, cols] row-major. Finds per br x bc block the smallest power-of-two scale with every
// value / scale an e4m3 value, and writes codes[rows * cols] and scales[ceil(rows/br) *
// ceil(cols/bc)] (UE8M0 bytes). Returns false (outputs unspecified) when some block's values are
// not all e4m3 x 2^e for one e, i.e. the values did not come from an FP8 block.
bool fp8_blocks_from_values(const float* w, int64_t rows, int64_t cols, int64_t br, int64_t bc, uint8_t* codes,
                            uint8_t* scales);

}  // namespace dsv4

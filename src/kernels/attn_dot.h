// Attention scores for the CPU path: one fp32 query row against scattered bf16 cache rows (the
// q.k loop of sparse attention), with the rows' fp32 values kept for the P.V pass.
#pragma once
#include <cstdint>

#include "tensor/bf16.h"

namespace dsv4::kernels {

// out[j] = sum_i q[i] * rows[j][i] for every non-null rows[j] (out[j] untouched for null rows), and
// when rows_f32 is not null, rows_f32[j * dim + i] = rows[j][i] as float. Each dot is computed on
// its own in a fixed order that depends only on dim: the canonical 16-lane order of the SIMD
// linears (kernels/linear_simd_impl.h: lanes in order of i, fused multiply-add, fixed tree) on the
// avx2 / avx512 tiers, which agree bitwise; sequential in i on the scalar tier. So a score never
// depends on which or how many other rows are in the call.
void bf16_row_dots(const float* q, const bf16* const* rows, int64_t n_rows, int64_t dim, float* out, float* rows_f32);

// The scalar-tier version (sequential fp32 sum of the rounded products), for tests.
void bf16_row_dots_scalar(const float* q, const bf16* const* rows, int64_t n_rows, int64_t dim, float* out,
                          float* rows_f32);

}  // namespace dsv4::kernels

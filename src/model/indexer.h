// Lightning indexer (spec §2.8): scores every visible compressed entry of a CSA layer for one query
// with bf16 arithmetic (so ties happen) and selects the top-k with the CUDA tie rule: strictly
// greater first, equal scores by lowest index, +0.0 above -0.0.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/bf16.h"

namespace dsv4::model {

// q: [n_heads, head_dim] (RoPE'd, rotated, FP4-simulated), w: [n_heads] (bf16, scaled),
// keys: n_visible rows of head_dim bf16 values. Writes scores[n_visible] (bf16 values).
void indexer_scores(const float* q, const float* w, int n_heads, int head_dim, const bf16* const* keys,
                    int64_t n_visible, float* scores);
// The same over keys as floats, contiguous [n_visible, head_dim] (bitwise the same scores).
void indexer_scores_f32(const float* q, const float* w, int n_heads, int head_dim, const float* keys,
                        int64_t n_visible, float* scores);
// Per key: the heads' q.k dots [n_heads, n_visible] combined as the reference does (bf16 einsum,
// relu, times the head weight in bf16, summed over heads in fp32, rounded).
void combine_heads(const float* dots, const float* w, int n_heads, int64_t n_visible, float* scores);
// The same over keys stored contiguously: [n_visible, head_dim].
void indexer_scores(const float* q, const float* w, int n_heads, int head_dim, const bf16* keys, int64_t n_visible,
                    float* scores);
// Indices of the k best scores in rank order (descending, ties by lower index, +0 above -0).
std::vector<int32_t> topk_indices(const float* scores, int64_t n, int64_t k);

}  // namespace dsv4::model

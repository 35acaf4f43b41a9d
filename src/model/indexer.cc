#include "model/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/attn_dot.h"
#include "kernels/linear.h"

namespace dsv4::model {

void indexer_scores(const float* q, const float* w, int n_heads, int head_dim, const bf16* keys, int64_t n_visible,
                    float* scores) {
  std::vector<const bf16*> rows(n_visible);
  for (int64_t s = 0; s < n_visible; ++s) rows[s] = keys + s * head_dim;
  indexer_scores(q, w, n_heads, head_dim, rows.data(), n_visible, scores);
}

void indexer_scores(const float* q, const float* w, int n_heads, int head_dim, const bf16* const* rows,
                    int64_t n_visible, float* scores) {
  // Per head, q.k against every key (each dot in its own fixed order); then per key the heads in
  // order: torch's bf16 sum over heads, fp32 accumulation, one rounding at the end.
  std::vector<float> dots(static_cast<size_t>(n_heads) * n_visible);
  for (int h = 0; h < n_heads; ++h)
    kernels::bf16_row_dots(q + static_cast<int64_t>(h) * head_dim, rows, n_visible, head_dim,
                           dots.data() + static_cast<size_t>(h) * n_visible, nullptr);
  combine_heads(dots.data(), w, n_heads, n_visible, scores);
}

void indexer_scores_f32(const float* q, const float* w, int n_heads, int head_dim, const float* keys,
                        int64_t n_visible, float* scores) {
  // Every head against every key as one f32 GEMM: each dot in the same fixed order as
  // kernels::bf16_row_dots (the linears' canonical order; sequential on the scalar tier).
  std::vector<float> dots(static_cast<size_t>(n_heads) * n_visible);
  if (n_visible > 0) kernels::linear_f32(q, n_heads, keys, n_visible, head_dim, dots.data());
  combine_heads(dots.data(), w, n_heads, n_visible, scores);
}

void combine_heads(const float* dots, const float* w, int n_heads, int64_t n_visible, float* scores) {
  std::vector<float> total(static_cast<size_t>(n_visible), 0.0f);
  for (int h = 0; h < n_heads; ++h)
    for (int64_t s = 0; s < n_visible; ++s) {
      const float relu = std::max(round_bf16(dots[static_cast<size_t>(h) * n_visible + s]), 0.0f);  // bf16 einsum, relu_
      total[s] += round_bf16(relu * w[h]);
    }
  for (int64_t s = 0; s < n_visible; ++s) scores[s] = round_bf16(total[s]);
}

std::vector<int32_t> topk_indices(const float* scores, int64_t n, int64_t k) {
  std::vector<int32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [scores](int32_t a, int32_t b) {
    const float x = scores[a], y = scores[b];
    if (x != y) return x > y;
    if (x == 0.0f && std::signbit(x) != std::signbit(y)) return !std::signbit(x);  // +0 above -0
    return a < b;
  };
  k = std::min(k, n);
  // `better` is a strict total order (ties by index), so selecting the k best in O(n) and then
  // sorting only those gives exactly the partial sort's result.
  std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
  std::sort(idx.begin(), idx.begin() + k, better);
  idx.resize(k);
  return idx;
}

}  // namespace dsv4::model

#include "model/indexer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

namespace {

typedef float f4 __attribute__((vector_size(16)));
typedef uint32_t u4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));

// round_bf16 on four lanes: the same bit operations as f32_to_bf16 (RNE; NaN kept quiet).
f4 round_bf16_4(f4 x) {
  u4 u;
  std::memcpy(&u, &x, sizeof u);
  const i4 nan = (u & 0x7fffffffu) > 0x7f800000u;
  const u4 rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  const u4 quiet = (u | 0x00400000u) & 0xffff0000u;
  const u4 m = (u4)nan;  // (a bit-for-bit vector conversion)
  const u4 r = (rounded & ~m) | (quiet & m);
  f4 out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

}  // namespace

void combine_heads(const float* dots, const float* w, int n_heads, int64_t n_visible, float* scores) {
  // Per key the heads in order (the lanes are keys: nothing is reordered within a key).
  int64_t s = 0;
  for (; s + 4 <= n_visible; s += 4) {
    f4 total = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int h = 0; h < n_heads; ++h) {
      f4 d;
      std::memcpy(&d, dots + static_cast<size_t>(h) * n_visible + s, sizeof d);
      const f4 r = round_bf16_4(d);
      const f4 relu = r < 0.0f ? f4{0.0f, 0.0f, 0.0f, 0.0f} : r;  // std::max(r, 0): NaN and -0 stay
      total += round_bf16_4(relu * w[h]);
    }
    const f4 out = round_bf16_4(total);
    std::memcpy(scores + s, &out, sizeof out);
  }
  for (; s < n_visible; ++s) {
    float total = 0.0f;
    for (int h = 0; h < n_heads; ++h) {
      const float relu = std::max(round_bf16(dots[static_cast<size_t>(h) * n_visible + s]), 0.0f);  // bf16 einsum, relu_
      total += round_bf16(relu * w[h]);
    }
    scores[s] = round_bf16(total);
  }
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

#include "model/indexer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dsv4::model {

void indexer_scores(const float* q, const float* w, int n_heads, int head_dim, const bf16* keys, int64_t n_visible,
                    float* scores) {
  for (int64_t s = 0; s < n_visible; ++s) {
    const bf16* k = keys + s * head_dim;
    float total = 0.0f;  // torch's bf16 sum over heads: fp32 accumulation, one rounding at the end
    for (int h = 0; h < n_heads; ++h) {
      const float* qh = q + static_cast<int64_t>(h) * head_dim;
      float dot = 0.0f;
      for (int i = 0; i < head_dim; ++i) dot += qh[i] * bf16_to_f32(k[i]);
      const float relu = std::max(round_bf16(dot), 0.0f);  // einsum output is bf16, then relu_
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
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(k);
  return idx;
}

}  // namespace dsv4::model

#include "model/compressor.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ops.h"
#include "tensor/quant.h"

namespace dsv4::model {

bool compressor_step(const CompressorWeights& w, CompressorState& st, const float* u, const float* z, int64_t t,
                     const RopeTable& rope, int rope_dim, float norm_eps, bool indexer_mode, float* entry) {
  const int m = st.ratio, dc = st.head_dim, width = st.width;
  const int slot = static_cast<int>(t % m);
  const int row = w.overlap ? m + slot : slot;
  const float* ape = w.ape + static_cast<size_t>(slot) * width;
  for (int c = 0; c < width; ++c) {
    st.kv[static_cast<size_t>(row) * width + c] = u[c];
    st.score[static_cast<size_t>(row) * width + c] = z[c] + ape[c];
  }
  if ((t + 1) % m != 0) return false;

  // Pool per channel: softmax over the candidate rows, then the weighted sum in row order.
  const int n_cand = w.overlap ? 2 * m : m;
  std::vector<float> pooled(dc), s(n_cand), v(n_cand);
  for (int c = 0; c < dc; ++c) {
    for (int r = 0; r < n_cand; ++r) {
      // Overlap: rows [0, m) contribute their first half, rows [m, 2m) their second half.
      const int col = (w.overlap && r >= m) ? dc + c : c;
      s[r] = st.score[static_cast<size_t>(r) * width + col];
      v[r] = st.kv[static_cast<size_t>(r) * width + col];
    }
    const float mx = *std::max_element(s.begin(), s.end());
    float sum = 0.0f;
    for (int r = 0; r < n_cand; ++r) sum += (s[r] = std::exp(s[r] - mx));
    float acc = 0.0f;
    for (int r = 0; r < n_cand; ++r) acc += v[r] * (s[r] / sum);
    pooled[c] = round_bf16(acc);
  }
  if (w.overlap) {  // the finished block becomes the next entry's "previous" half
    std::copy(st.kv.begin() + static_cast<size_t>(m) * width, st.kv.end(), st.kv.begin());
    std::copy(st.score.begin() + static_cast<size_t>(m) * width, st.score.end(), st.score.begin());
    st.reset_rows(m, 2 * m);
  } else {
    st.reset_rows(0, m);
  }

  kernels::rms_norm(pooled.data(), w.norm, dc, norm_eps, entry);
  std::vector<float> cs(rope_dim / 2), sn(rope_dim / 2);
  rope.at(t + 1 - m, cs.data(), sn.data());
  kernels::rope_rotate(entry + dc - rope_dim, cs.data(), sn.data(), rope_dim / 2, false);
  if (indexer_mode) {
    kernels::hadamard_bf16(entry, dc, static_cast<float>(std::pow(static_cast<double>(dc), -0.5)));
    fp4_roundtrip(entry, dc, 32);
  } else {
    fp8_roundtrip(entry, dc - rope_dim, 64);
  }
  return true;
}

}  // namespace dsv4::model

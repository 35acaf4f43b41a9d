#include "kernels/act_quant.h"

#include <algorithm>

#include "kernels/linear.h"
#include "tensor/fp8.h"
#include "tensor/quant.h"

namespace dsv4::kernels {

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

}  // namespace dsv4::kernels

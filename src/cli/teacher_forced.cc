#include "cli/teacher_forced.h"

#include <algorithm>
#include <cmath>

namespace dsv4::cli {

double token_nll(std::span<const float> row, int32_t target) {
  double mx = row[0];
  for (float v : row) mx = std::max<double>(mx, v);
  double s = 0;
  for (float v : row) s += std::exp(static_cast<double>(v) - mx);
  return mx + std::log(s) - static_cast<double>(row[target]);
}

Status check_token_ids(std::span<const int32_t> ids, int64_t vocab_size) {
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size) return error("token id {} is outside the vocabulary ({} ids)", id, vocab_size);
  return ok_status();
}

Status forward_rows(const model::Model& m, std::span<const int32_t> ids, int64_t chunk, int64_t first_row,
                    const std::function<Status(int64_t, std::span<const float>)>& on_row) {
  if (chunk < 1) return error("chunk must be positive (got {})", chunk);
  const int64_t V = m.config().vocab_size;
  const int64_t n = static_cast<int64_t>(ids.size());
  model::Sequence seq = m.new_sequence();
  for (int64_t p0 = 0; p0 < n; p0 += chunk) {
    const int64_t len = std::min(chunk, n - p0);
    // forward() returns the logits of the last n_out fed positions: those at or after first_row.
    const int64_t n_out = std::clamp<int64_t>(p0 + len - first_row, 0, len);
    DSV4_ASSIGN_OR_RETURN(std::vector<float> logits, m.forward(seq, ids.subspan(p0, len), n_out));
    for (int64_t j = 0; j < n_out; ++j)
      DSV4_TRY(on_row(p0 + len - n_out + j, std::span<const float>(logits).subspan(j * V, V)));
  }
  return ok_status();
}

}  // namespace dsv4::cli

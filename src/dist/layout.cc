#include "dist/layout.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "model/schema.h"
#include "model/weights.h"

namespace dsv4::dist {

model::Placement Layout::placement(int rank) const {
  model::Placement p;
  const int s = stage_of(rank);
  p.layer_begin = stage_begin[s];
  p.layer_end = stage_begin[s + 1];
  p.owns_ends = s == 0;
  p.expert_members = ep;
  p.expert_member = member_of(rank);
  p.owns_attention = p.expert_member == 0;
  return p;
}

std::string Layout::describe() const {
  std::string r;
  for (int s = 0; s < pp; ++s)
    r += fmt::format("stage {}: ranks {}-{}, layers [{}, {}){}, {} of weights\n", s, s * ep, s * ep + ep - 1,
                     stage_begin[s], stage_begin[s + 1], s == 0 ? " + embedding, head, MTP" : "",
                     stage_bytes[s] >= (int64_t{1} << 30) ? fmt::format("{:.2f} GiB", stage_bytes[s] / double(1 << 30))
                                                          : fmt::format("{:.1f} MiB", stage_bytes[s] / double(1 << 20)));
  return r;
}

int64_t placement_bytes(const ModelConfig& c, const model::Placement& p) {
  int64_t b = 0;
  for (const TensorSpec& t : expected_tensors(c))
    if (model::placement_wants(c, p, t.name)) b += t.nbytes();
  return b;
}

Result<Layout> make_layout(const ModelConfig& c, int pp, int ep, const std::string& split) {
  const int L = c.num_hidden_layers;
  if (pp < 1 || ep < 1) return error("--pp and --ep must be at least 1 (got {} and {})", pp, ep);
  if (pp > L)
    return error("--pp {} asks for more pipeline stages than the checkpoint has layers ({})", pp, L);
  if (ep > c.n_routed_experts)
    return error("--ep {} asks for more expert-parallel ranks than each layer has routed experts ({})", ep,
                 c.n_routed_experts);
  Layout lo;
  lo.pp = pp;
  lo.ep = ep;
  // Bytes per main layer, plus what lives with the ends (embedding, head, norms, MTP block).
  std::vector<int64_t> layer_bytes(L, 0);
  int64_t ends = 0;
  for (const TensorSpec& t : expected_tensors(c)) {
    if (t.layer >= 0 && t.layer < L && !t.is_mtp) layer_bytes[t.layer] += t.nbytes();
    else ends += t.nbytes();
  }
  lo.stage_begin.assign(pp + 1, 0);
  lo.stage_begin[pp] = L;
  if (!split.empty()) {
    std::vector<int> counts;
    std::stringstream ss(split);
    std::string item;
    while (std::getline(ss, item, ',')) {
      size_t used = 0;
      int v = 0;
      try {
        v = std::stoi(item, &used);
      } catch (...) {
        used = 0;
      }
      if (used != item.size() || v < 1) return error("--pp-split: '{}' is not a positive layer count", item);
      counts.push_back(v);
    }
    if (static_cast<int>(counts.size()) != pp)
      return error("--pp-split gives {} stages, --pp asks for {}", counts.size(), pp);
    int sum = 0;
    for (int s = 0; s < pp; ++s) {
      lo.stage_begin[s] = sum;
      sum += counts[s];
    }
    if (sum != L) return error("--pp-split adds up to {} layers; the checkpoint has {}", sum, L);
  } else {
    // Contiguous split minimising the largest stage (stage 0 carries the ends): a small DP.
    const int64_t inf = std::numeric_limits<int64_t>::max();
    std::vector<int64_t> prefix(L + 1, 0);
    for (int l = 0; l < L; ++l) prefix[l + 1] = prefix[l] + layer_bytes[l];
    // best[s][l]: the smallest max over stages 0..s-1 covering layers [0, l); cut[s][l] its last cut.
    std::vector<std::vector<int64_t>> best(pp + 1, std::vector<int64_t>(L + 1, inf));
    std::vector<std::vector<int>> cut(pp + 1, std::vector<int>(L + 1, 0));
    best[0][0] = 0;
    for (int s = 1; s <= pp; ++s)
      for (int l = s; l <= L; ++l)
        for (int k = s - 1; k < l; ++k) {
          if (best[s - 1][k] == inf) continue;
          const int64_t stage = prefix[l] - prefix[k] + (s == 1 ? ends : 0);
          const int64_t v = std::max(best[s - 1][k], stage);
          if (v < best[s][l]) {
            best[s][l] = v;
            cut[s][l] = k;
          }
        }
    int l = L;
    for (int s = pp; s >= 1; --s) {
      lo.stage_begin[s - 1] = cut[s][l];
      l = cut[s][l];
    }
  }
  for (int s = 0; s < pp; ++s) {
    int64_t b = s == 0 ? ends : 0;
    for (int l = lo.stage_begin[s]; l < lo.stage_begin[s + 1]; ++l) b += layer_bytes[l];
    lo.stage_bytes.push_back(b);
  }
  return lo;
}

}  // namespace dsv4::dist

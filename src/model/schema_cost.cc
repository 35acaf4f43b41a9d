#include "model/schema_cost.h"

#include <algorithm>

#include "model/schema.h"
#include "model/schema_summary.h"

namespace dsv4 {
namespace {

// Attention candidates of a query that sees `ctx` tokens (itself included) in one main layer:
// window rows and compressed rows attended, and compressed indexer keys scored.
struct Candidates {
  int64_t window = 0, compressed = 0, indexer_keys = 0;
};

Candidates candidates(const ModelConfig& cfg, const LayerSpec& ls, int64_t ctx) {
  Candidates c;
  c.window = std::min<int64_t>(ctx, cfg.sliding_window);
  if (ls.compress_ratio == 0) return c;
  const int64_t visible = ctx / ls.compress_ratio;  // complete compressed blocks
  if (ls.attn == AttnKind::kCsa) {
    c.indexer_keys = visible;
    c.compressed = std::min<int64_t>(visible, cfg.index_topk);
  } else {
    c.compressed = visible;
  }
  return c;
}

}  // namespace

DecodeBytes decode_bytes_per_token(const ModelConfig& cfg, int64_t ctx) {
  DecodeBytes b;
  for (const TensorSpec& s : expected_tensors(cfg)) {
    if (s.is_mtp) continue;
    if (s.expert >= cfg.num_experts_per_tok) continue;  // all experts have one size: ids < k stand for the k chosen
    if (s.name == "embed.weight" || s.role == TensorRole::kHashTable) {
      b.weights += s.nbytes() / s.shape[0];  // one row: this token's
    } else {
      b.weights += s.nbytes();
    }
  }
  const int64_t row = int64_t{2} * cfg.head_dim, index_row = int64_t{2} * cfg.index_head_dim;
  for (const LayerSpec& ls : cfg.layers()) {
    if (ls.is_mtp) continue;
    const Candidates c = candidates(cfg, ls, ctx);
    b.kv += (c.window + c.compressed) * row + c.indexer_keys * index_row;
  }
  return b;
}

PrefillFlops prefill_flops_per_token(const ModelConfig& cfg, int64_t prompt) {
  PrefillFlops f;
  const ParamCounts p = count_params(cfg);
  f.linear = 2.0 * static_cast<double>(p.active);
  if (prompt <= 0) return f;
  const double per_candidate = 4.0 * cfg.num_attention_heads * cfg.head_dim;  // QK + PV, one shared KV head
  const double per_index_key = 2.0 * cfg.index_n_heads * cfg.index_head_dim;
  double sum = 0;
  for (const LayerSpec& ls : cfg.layers()) {
    if (ls.is_mtp) continue;
    for (int64_t pos = 0; pos < prompt; ++pos) {
      const Candidates c = candidates(cfg, ls, pos + 1);
      sum += per_candidate * static_cast<double>(c.window + c.compressed) + per_index_key * static_cast<double>(c.indexer_keys);
    }
  }
  f.attention = sum / static_cast<double>(prompt);
  return f;
}

}  // namespace dsv4

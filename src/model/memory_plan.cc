#include "model/memory_plan.h"

#include <algorithm>

#include "model/attention.h"
#include "model/kv_pack.h"
#include "model/row_store.h"
#include "model/schema.h"

namespace dsv4 {
namespace {

// Compressor state as CompressorState::init holds it: kv and score, fp32, rows x width, where
// the overlapping (ratio 4) compressor keeps 2m rows of 2*Dc.
int64_t compressor_state_bytes(int ratio, int64_t head_dim) {
  const int64_t c = ratio == 4 ? 2 : 1;
  return 2 * (c * ratio) * (c * head_dim) * static_cast<int64_t>(sizeof(float));
}

bool has_indexer(const LayerSpec& l) { return l.attn == AttnKind::kCsa; }

// The row stores one sequence grows (packed compressed rows, packed indexer keys: kv_pack.h):
// {rows, row bytes} each.
template <typename F>
void for_each_growing(const ModelConfig& cfg, int64_t tokens, F&& f) {
  for (const LayerSpec& l : cfg.layers()) {
    if (l.is_mtp || l.compress_ratio == 0) continue;
    const int64_t rows = tokens / l.compress_ratio;
    f(l, rows, packed_main_row_bytes(cfg));
    if (has_indexer(l)) f(l, rows, packed_index_row_bytes(cfg));
  }
}

int64_t plan_total(const ModelConfig& cfg, const MemoryPlanInput& in) { return plan_memory(cfg, in).total; }

}  // namespace

SequenceBytes sequence_bytes(const ModelConfig& cfg, int64_t tokens) {
  SequenceBytes b;
  for (const LayerSpec& l : cfg.layers()) {
    b.ring += int64_t{cfg.sliding_window} * cfg.head_dim * 2;
    if (l.compress_ratio == 0) continue;
    b.compressor += compressor_state_bytes(l.compress_ratio, cfg.head_dim);
    if (has_indexer(l)) b.compressor += compressor_state_bytes(l.compress_ratio, cfg.index_head_dim);
  }
  for_each_growing(cfg, tokens, [&](const LayerSpec&, int64_t rows, int64_t row_bytes) { b.kv += rows * row_bytes; });
  return b;
}

int64_t speculative_mark_bytes(const ModelConfig& cfg) {
  if (cfg.num_nextn_predict_layers <= 0) return 0;
  int64_t b = 0;
  for (const LayerSpec& l : cfg.layers()) {
    if (l.is_mtp) continue;
    b += int64_t{cfg.sliding_window} * cfg.head_dim * 2;
    if (l.compress_ratio == 0) continue;
    b += compressor_state_bytes(l.compress_ratio, cfg.head_dim);
    if (has_indexer(l)) b += compressor_state_bytes(l.compress_ratio, cfg.index_head_dim);
  }
  return b;
}

int64_t packed_main_row_bytes(const ModelConfig& cfg) { return model::MainRowFormat::of(cfg).bytes; }

int64_t packed_index_row_bytes(const ModelConfig& cfg) { return model::IndexKeyFormat::of(cfg.index_head_dim).bytes; }

KvComparison kv_comparison(const ModelConfig& cfg, int64_t tokens) {
  KvComparison k;
  k.layers = cfg.num_hidden_layers;
  k.v4_packed = sequence_bytes(cfg, tokens).kv;
  for (const LayerSpec& l : cfg.layers()) {
    if (l.is_mtp || l.compress_ratio == 0) continue;
    const int64_t rows = tokens / l.compress_ratio;
    k.v4_bf16 += rows * int64_t{cfg.head_dim} * 2;
    if (has_indexer(l)) k.v4_bf16 += rows * int64_t{cfg.index_head_dim} * 2;
  }
  const int64_t lt = k.layers * tokens;
  k.mla_bf16 = lt * (kV32KvLoraRank + kV32RopeDim) * 2;
  k.v32_bf16 = lt * (kV32KvLoraRank + kV32RopeDim + kV32IndexDim) * 2;
  k.v32_fp8 = lt * (kV32Fp8EntryBytes + kV32Fp8IndexBytes);
  return k;
}

// docs/memory.md has every term.
MemoryPlan plan_memory(const ModelConfig& cfg, const MemoryPlanInput& in_) {
  MemoryPlan p;
  p.in = in_;
  MemoryPlanInput& in = p.in;
  if (in.ctx <= 0) in.ctx = cfg.max_position_embeddings;
  const int64_t ctx = in.ctx;
  const bool spec = in.speculative && cfg.num_nextn_predict_layers > 0;

  p.seq = sequence_bytes(cfg, ctx);
  p.mark = spec ? speculative_mark_bytes(cfg) : 0;
  // RowStore: the last block's capacity grows by 16 rows up to a full block, so it exceeds the
  // rows held by under 16 rows per store; 1/8 of the rows covers the blocks' bookkeeping (a
  // shared pointer and a vector per kBlockRows rows) many times over.
  int64_t largest_row = 0;
  p.growth_slack = (p.seq.kv + 7) / 8;
  for_each_growing(cfg, ctx, [&](const LayerSpec&, int64_t rows, int64_t row_bytes) {
    p.growth_slack += 16 * row_bytes;
    largest_row = std::max(largest_row, row_bytes);
  });
  p.per_sequence = p.seq.total() + p.mark + p.growth_slack;
  p.sequences = in.parallel * p.per_sequence;

  if (in.checkpoint_bytes >= 0) {
    p.weights_mapped = in.checkpoint_bytes;
  } else {
    for (const TensorSpec& s : expected_tensors(cfg)) p.weights_mapped += s.nbytes();
  }
  // No weight is copied at load: every kernel reads the mmapped tensors in their published layout.

  // One step's activations, fp32 per row: the HC state (x, the MTP states out, the head's copy),
  // the block's a / sub, the attention projections (q_lora, q and o at H*D, kv, compressor and
  // indexer projections, grouped output), the routed experts' gate / up / in / out, the shared
  // expert and accumulator, and the logits with their per-sequence copy.
  const int64_t d = cfg.hidden_size, H = cfg.num_attention_heads, D = cfg.head_dim, k = cfg.num_experts_per_tok;
  const int64_t dih = cfg.index_head_dim, nih = cfg.index_n_heads;
  const int64_t per_row = 3 * cfg.hc_dim() + 2 * d + cfg.q_lora_rank + 2 * H * D + D + 2 * (2 * D) + 2 * (2 * dih) +
                          nih * dih + nih + int64_t{cfg.o_groups} * cfg.o_lora_rank + H * D / std::max(1, cfg.o_groups) +
                          cfg.o_lora_rank + k * (2 * cfg.moe_intermediate_size + 2 * d + 1) + 2 * d + 2 * cfg.vocab_size;
  p.activations = in.step_tokens * per_row * static_cast<int64_t>(sizeof(float));

  // Per token at ctx (one at a time on the owner thread): the indexer's scores and top-k order
  // over ctx/m keys, and per chunk of keys (kIndexerKeyChunk) the keys unpacked to floats,
  // head dots and totals; the attention candidates (window + top-k or every HCA
  // row) as floats with their mask and every head's scores; one block of rows being grown (old and
  // new capacity both live).
  int64_t idx_keys = 0, cand = cfg.index_topk;
  for (const LayerSpec& l : cfg.layers()) {
    if (l.is_mtp || l.compress_ratio == 0) continue;
    if (has_indexer(l))
      idx_keys = std::max(idx_keys, ctx / l.compress_ratio);
    else
      cand = std::max(cand, ctx / l.compress_ratio);
  }
  // (The key chunks are scored in parallel: up to 64 threads' chunks are counted.)
  const int64_t chunk_keys = std::min(idx_keys, 64 * model::kIndexerKeyChunk);
  p.attention_scratch = idx_keys * (4 + 4) + chunk_keys * (4 * dih + 4 * nih + 4) +
                        (cfg.sliding_window + cand) * (4 * D + 1 + 4 * H) + 2 * model::RowStore::kBlockRows * largest_row;
  p.prefix_cache = in.prefix_cache_bytes;
  p.total = p.weights_mapped + p.sequences + p.activations + p.attention_scratch + p.prefix_cache;
  return p;
}

int64_t largest_ctx_within(const ModelConfig& cfg, MemoryPlanInput in, int64_t budget) {
  if (in.checkpoint_bytes < 0) in.checkpoint_bytes = plan_memory(cfg, in).weights_mapped;  // once, not per probe
  int64_t lo = 0, hi = cfg.max_position_embeddings;  // plan(lo) fits (or lo = 0), plan(hi + 1) does not
  in.ctx = hi;
  if (plan_total(cfg, in) <= budget) return hi;
  hi -= 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    in.ctx = mid;
    if (plan_total(cfg, in) <= budget)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

int64_t largest_parallel_within(const ModelConfig& cfg, MemoryPlanInput in, int64_t budget, int64_t max_parallel) {
  in.parallel = 0;
  const MemoryPlan base = plan_memory(cfg, in);
  if (base.total > budget || base.per_sequence <= 0) return 0;
  return std::min(max_parallel, (budget - base.total) / base.per_sequence);
}

int64_t request_state_bytes(const ModelConfig& cfg, int64_t tokens, int n, bool speculative) {
  MemoryPlanInput in;
  in.ctx = std::max<int64_t>(tokens, 1);
  in.parallel = n;
  in.speculative = speculative;
  in.checkpoint_bytes = 0;
  return plan_memory(cfg, in).sequences;
}

}  // namespace dsv4

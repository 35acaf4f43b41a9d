// The memory a V4 config needs to hold sequences of a given length (docs/memory.md): one
// sequence's state (what model::Sequence holds, exactly), the KV bytes of the same depth in the
// packed layout and for a V3.2-style MLA cache, and a whole-server plan (weights + parallel
// sequences + scratch + prefix cache) checked against a budget. Every dimension comes from the
// config; used by `dsv4 info --ctx`, `dsv4 serve` and the engine's KV budget.
#pragma once
#include <cstdint>

#include "io/config.h"

namespace dsv4 {

// One sequence's state at `tokens` positions, as model::Sequence stores it (bf16 rows).
struct SequenceBytes {
  int64_t ring = 0;        // window rings: sliding_window x head_dim bf16, every layer incl. MTP
  int64_t compressor = 0;  // partial-block compressor state: fp32 kv + score, main and indexer
  int64_t kv = 0;          // compressed main rows (CSA/HCA) + indexer keys (CSA), floor(tokens / m) each
  int64_t fixed() const { return ring + compressor; }
  int64_t total() const { return ring + compressor + kv; }
};
SequenceBytes sequence_bytes(const ModelConfig& cfg, int64_t tokens);

// What a speculative-decoding rollback mark (model::SequenceMark) copies: the rings and
// compressor states of the main layers.
int64_t speculative_mark_bytes(const ModelConfig& cfg);

// Bytes of one packed row (spec §3.1): a main row as FP8 nope + one UE8M0 per 64 + bf16 rope,
// padded to 8 (584 for V4); an indexer key as packed FP4 + one UE8M0 per 32 (68 for V4).
int64_t packed_main_row_bytes(const ModelConfig& cfg);
int64_t packed_index_row_bytes(const ModelConfig& cfg);

// KV bytes of one sequence at `tokens` positions in four layouts, for comparison.
struct KvComparison {
  int64_t layers = 0;           // num_hidden_layers (the "same depth")
  int64_t v4_bf16 = 0;          // this engine today / the reference: bf16 rows (= SequenceBytes::kv)
  int64_t v4_packed = 0;        // the packed FP8 / FP4 layout (the layout issue 12 targets)
  int64_t mla_bf16 = 0;         // V3-style MLA: (kv_lora_rank 512 + rope 64) bf16 per token per layer
  int64_t v32_bf16 = 0;         // V3.2: MLA + DSA indexer key (128) bf16 per token per layer
  int64_t v32_fp8 = 0;          // V3.2 FP8 deployment: 656 B MLA entry + 132 B indexer key per token per layer
};
KvComparison kv_comparison(const ModelConfig& cfg, int64_t tokens);

// V3.2's cache dimensions (DeepSeek-V3.2-Exp config.json: kv_lora_rank 512, qk_rope_head_dim 64,
// index_head_dim 128; FP8 layout of vLLM's fp8_ds_mla: 512 FP8 + 4 fp32 scales + 64 bf16 = 656 B,
// indexer 128 FP8 + one fp32 scale = 132 B). They describe the other model, not this config.
inline constexpr int64_t kV32KvLoraRank = 512, kV32RopeDim = 64, kV32IndexDim = 128;
inline constexpr int64_t kV32Fp8EntryBytes = 656, kV32Fp8IndexBytes = 132, kV32Layers = 61;

// Inputs of a whole-process plan (`dsv4 serve` with these options).
struct MemoryPlanInput {
  int64_t ctx = 0;                // tokens per sequence (0: max_position_embeddings)
  int64_t parallel = 1;           // sequences held at once
  int64_t step_tokens = 256;      // rows of one engine step
  bool speculative = true;        // MTP rollback marks (only when the config has an MTP block)
  int64_t checkpoint_bytes = -1;  // the shard bytes (mmapped); -1: the tensor bytes the schema expects
  int64_t prefix_cache_bytes = 0; // --cache-ram
};

struct MemoryPlan {
  MemoryPlanInput in;
  SequenceBytes seq;                // one sequence at ctx
  int64_t mark = 0;                 // speculative rollback mark per sequence (0 without MTP)
  int64_t growth_slack = 0;         // vector capacity over the rows held, per sequence (<= 1/8 + 16 rows)
  int64_t per_sequence = 0;         // seq.total() + mark + growth_slack
  int64_t weights_mapped = 0;       // the checkpoint's bytes: mmapped, resident once paged in
  int64_t activations = 0;          // one step of step_tokens rows (estimate)
  int64_t attention_scratch = 0;    // per-token scratch at ctx: indexer scores, candidate lists, one row reallocation
  int64_t prefix_cache = 0;
  int64_t sequences = 0;            // parallel x per_sequence
  int64_t total = 0;
};
MemoryPlan plan_memory(const ModelConfig& cfg, const MemoryPlanInput& in);

// With `budget` bytes: the largest ctx (at in.parallel) and the largest parallel (at in.ctx) whose
// plan fits; 0 when not even 1 fits.
int64_t largest_ctx_within(const ModelConfig& cfg, MemoryPlanInput in, int64_t budget);
int64_t largest_parallel_within(const ModelConfig& cfg, MemoryPlanInput in, int64_t budget, int64_t max_parallel);

// The engine's admission figure: the state `n` choices of a request hold once they reach
// `tokens` positions (per_sequence of a plan at that length, times n).
int64_t request_state_bytes(const ModelConfig& cfg, int64_t tokens, int n, bool speculative);

}  // namespace dsv4

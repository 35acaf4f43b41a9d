// Size figures of a V4 config, derived from its tensor schema: logical parameter counts (total,
// active per token, MTP) and KV-cache bytes (spec §3). Used by `dsv4 info`.
#pragma once
#include <cstdint>

#include "io/config.h"

namespace dsv4 {

struct ParamCounts {
  int64_t total = 0;       // main model (embedding + layers + head), MTP excluded
  int64_t active = 0;      // per token: everything but the embedding and the unselected routed experts
  int64_t embedding = 0;   // embed.weight
  int64_t mtp = 0;         // the MTP block(s), all experts
  int64_t mtp_active = 0;  // the MTP block(s) per drafted token
};

// Logical parameters (an FP4 byte = 2; scales and tid2eid tables are not parameters).
ParamCounts count_params(const ModelConfig& cfg);

struct KvCacheSize {
  // Growth per token over all main layers, reference storage (bf16 rows): CSA layers keep one
  // head_dim row and one index_head_dim indexer key per `ratio` tokens, HCA layers one head_dim row
  // per `ratio` tokens. Fractional in general (ratio need not divide the row width).
  double bf16_bytes_per_token = 0;
  // The lossless packed alternative of §3.1: main rows as FP8 nope + UE8M0 per 64 + bf16 rope (padded
  // to 8 bytes, vLLM fp8_ds_mla: 584 B), indexer rows as packed FP4 + one scale per 32 (68 B).
  double packed_bytes_per_token = 0;
  // Fixed cost: one sliding-window ring (sliding_window x head_dim bf16) per layer incl. MTP.
  int64_t window_ring_bytes = 0;
};

KvCacheSize kv_cache_size(const ModelConfig& cfg);

}  // namespace dsv4

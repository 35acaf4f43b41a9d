// Work per token of a V4 config, from its tensor schema: bytes a decoded token reads and FLOPs a
// prefilled token does. The yardsticks of `dsv4 bench`: decode is bound by memory bandwidth (every
// active weight is read once per token), prefill by GEMM throughput.
#pragma once
#include <cstdint>

#include "io/config.h"

namespace dsv4 {

struct DecodeBytes {
  // Weights as stored (FP8 / packed FP4 bytes plus their scales, bf16 / f32 as they are) for what
  // one token touches in the main layers: attention, compressors, indexer, router, the shared
  // expert and num_experts_per_tok routed experts per layer, one embedding row, one tid2eid row, the
  // HC head, final norm and LM head. The MTP block is not run by plain decode and not counted.
  int64_t weights = 0;
  // KV rows read by attention at context length ctx, bf16 as in the reference: the sliding window
  // (min(ctx, window) rows per layer), CSA's index_topk selected compressed rows plus every
  // compressed indexer key the indexer scores, and every HCA compressed row.
  int64_t kv = 0;
  int64_t total() const { return weights + kv; }
};

DecodeBytes decode_bytes_per_token(const ModelConfig& cfg, int64_t ctx);

struct PrefillFlops {
  double linear = 0;     // 2 * active parameters (matmuls, counting norms and HC mixers too)
  double attention = 0;  // QK and PV over the candidates, plus indexer scores, per token
  double total() const { return linear + attention; }
};

// Average per token over a prompt of `prompt` tokens starting at position 0.
PrefillFlops prefill_flops_per_token(const ModelConfig& cfg, int64_t prompt);

}  // namespace dsv4

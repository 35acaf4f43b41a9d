// One transformer block (spec §2.2): HC_pre -> norm -> attention -> HC_post, then
// HC_pre -> norm -> MoE -> HC_post, on the n_hc-stream residual state.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "io/config.h"
#include "model/attention.h"
#include "model/layer_state.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv4::model {

// Decisions a layer made, for the golden probes and debugging (filled only when requested).
struct LayerTrace {
  std::vector<int32_t> route_experts;  // [n, k]
  std::vector<float> route_weights;    // [n, k]
  std::vector<int32_t> indexer_topk;   // [n, index_topk], -1 = none (CSA layers)
};

// x: [n, hc, d] bf16 values, updated in place; tokens: [n] input ids. Each segment names the rows
// of one sequence, its layer state and its first position (attention.h); every other part of
// the block is row-independent, so a row's result does not depend on the rest of the batch.
void block_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                   std::span<const Segment> segments, float* x, const int32_t* tokens, int64_t n, LayerTrace* trace);
// One sequence: positions pos0...
void block_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, LayerState& st, float* x,
                   const int32_t* tokens, int64_t n, int64_t pos0, LayerTrace* trace);

}  // namespace dsv4::model

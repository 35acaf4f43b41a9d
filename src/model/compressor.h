// KV compressor (spec §2.7): gated softmax pooling of m consecutive tokens per channel, overlap
// mode (m = 4: 2m candidates per entry, half from the previous block) or plain mode; the pooled
// row is normalised, RoPE'd at the block's first position and FP8- (main) or Hadamard+FP4-
// (indexer) simulated. One token at a time through the streaming state, so a prefill in any
// chunking produces exactly the decode path's numbers.
#pragma once
#include <cstdint>

#include "model/layer_state.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv4::model {

// u, z: this token's fp32 projections wkv(a), wgate(a) [c*Dc] (z without ape).
// Returns true when position t completes a block; then entry[Dc] holds the new row (bf16 values).
bool compressor_step(const CompressorWeights& w, CompressorState& st, const float* u, const float* z, int64_t t,
                     const RopeTable& rope, int rope_dim, float norm_eps, bool indexer_mode, float* entry);

}  // namespace dsv4::model

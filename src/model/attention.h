// The V4 attention sub-layer (spec §2.4-§2.10): low-rank q with per-head RMS, one shared KV head
// (K = V) with FP8-simulated non-RoPE dims, sliding-window ring + compressed entries (all of them
// for HCA, the indexer's top-k for CSA), sink softmax in 64-candidate blocks with bf16
// probabilities, inverse RoPE on the output, grouped low-rank output projection.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "io/config.h"
#include "model/layer_state.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv4::model {

struct LayerTrace;  // model/block.h

void init_layer_state(const ModelConfig& c, const LayerWeights& w, LayerState& st);

// Rows [row0, row0 + n) of a batch belong to one sequence, whose state `st` they advance from
// position pos0 on. A batch holds any number of segments (of different sequences).
struct Segment {
  LayerState* st = nullptr;
  int64_t row0 = 0, n = 0, pos0 = 0;
};

// a: [n, d] attn-normed inputs; out: [n, d]. The projections run over all rows of the batch at
// once (row-independent arithmetic); the per-token part runs per segment on its own state, so a
// row's result never depends on which other segments share the batch.
void attention_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                       std::span<const Segment> segments, const float* a, int64_t n, float* out, LayerTrace* trace);
// One segment: positions pos0..pos0+n-1 of the sequence whose state is `st`.
void attention_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, LayerState& st,
                       const float* a, int64_t n, int64_t pos0, float* out, LayerTrace* trace);

// Indexer keys are unpacked and scored this many at a time, one chunk per thread at once
// (model/memory_plan.cc counts the scratch).
inline constexpr int64_t kIndexerKeyChunk = 512;

// One head group of the sparse attention core for a single query (exposed for tests):
// q [n_heads, D], rows [n_cand, D] (nullptr row = no candidate), sink [n_heads] -> o [n_heads, D].
void sparse_attention(const float* q, int n_heads, int head_dim, const std::vector<const bf16*>& rows,
                      const float* sink, float scale, float* o);
// The same over candidates already as floats: kv [n_cand, D], valid[j] == 0 for a hole (its row
// is ignored).
void sparse_attention_f32(const float* q, int n_heads, int head_dim, const float* kv, const uint8_t* valid,
                          int64_t n_cand, const float* sink, float scale, float* o);

}  // namespace dsv4::model

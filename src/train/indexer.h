// The lightning indexer in training (spec §2.8; V3.2 / V4 reports): its scores pick the top-k
// compressed entries each query of a CSA layer attends to, exactly as at inference; it is trained
// by a KL loss towards the main attention's distribution over the visible compressed entries (the
// heads' softmaxes averaged), on inputs detached from the main graph, so the language-model loss
// never flows through it and the KL loss reaches only the indexer's own parameters.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "train/compressor.h"
#include "train/layer_params.h"

namespace dsv4::train {

template <typename T>
struct IndexerCache {
  std::vector<T> q;     // [n, nh*Dh] after RoPE + Hadamard
  std::vector<T> w;     // [n, nh] scaled head weights
  std::vector<T> keys;  // [b*E, Dh]
  CompressorCache<T> comp;
  std::vector<std::vector<int32_t>> selected;  // per query: entry indices within its sequence
};

// qr: [n, q_lora] (the query's low-rank state), a: [n, d]; b sequences of s tokens.
template <typename T>
void indexer_fwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* qr, const T* a,
                 int64_t b, int64_t s, IndexerCache<T>& cache);
// The KL loss (mean over queries with a visible entry) given the main attention's target
// distributions target[t] over entries 0..visible(t)-1; adds its gradient to the indexer's
// parameters (scaled by `weight`). Returns the loss.
template <typename T>
T indexer_kl_bwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* qr, const T* a,
                 int64_t b, int64_t s, const IndexerCache<T>& cache, const std::vector<std::vector<T>>& target,
                 T weight);

// Entries visible to query position t of a ratio-m layer.
inline int64_t visible_entries(int64_t t, int m) { return (t + 1) / m; }

}  // namespace dsv4::train

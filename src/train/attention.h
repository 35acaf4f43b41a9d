// The V4 attention sub-layer in training (spec §2.4-§2.10), forward and backward over b sequences
// of s tokens: low-rank q with per-head RMS, the shared K = V head, sliding window, CSA (compressor +
// indexer top-k) or HCA (all compressed entries), sink softmax, inverse RoPE on the output and the
// grouped low-rank output projection. Full precision throughout (train/ops.h).
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "train/compressor.h"
#include "train/indexer.h"
#include "train/layer_params.h"

namespace dsv4::train {

template <typename T>
struct AttnCache {
  std::vector<T> qa, qa_r, qr;     // [n, q_lora], [n], [n, q_lora]
  std::vector<T> qb, q_r, q;       // [n, H*D] before the head norm, [n*H], final (RoPE'd)
  std::vector<T> kva, kv_r;        // [n, D], [n]
  std::vector<T> table;            // [n + b*E, D]: the tokens' KV rows, then the compressed entries
  CompressorCache<T> comp;
  IndexerCache<T> idx;
  std::vector<int64_t> cand_off, cand;  // candidates of query t: cand[cand_off[t] .. cand_off[t+1])
  std::vector<T> prob, psink;      // [n_cand_total, H], [n, H]
  std::vector<T> o, low;           // [n, H*D] (after the inverse RoPE), [n, og*o_lora]
  T kl = 0;                        // the indexer's KL loss (CSA layers), set by the backward
};

// a: [b*s, d] attn-normed input at positions pos0 + (0..s-1) of each sequence -> out [b*s, d].
template <typename T>
void attention_fwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* a, int64_t b,
                   int64_t s, int64_t pos0, T* out, AttnCache<T>& cache);
// dout -> da +=, parameter gradients +=; CSA layers also train the indexer (KL weight idx_weight).
template <typename T>
void attention_bwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* a, int64_t b,
                   int64_t s, int64_t pos0, AttnCache<T>& cache, const T* dout, T* da, T idx_weight);

}  // namespace dsv4::train

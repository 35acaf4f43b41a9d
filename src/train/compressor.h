// The KV compressor (spec §2.7) over whole training sequences, forward and backward: per-channel
// softmax pooling of m tokens (or 2 x 4 half-rows in the overlapping m = 4 mode), RMSNorm, RoPE at
// the block's first position, and for the indexer's compressor the Hadamard rotation.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "train/layer_params.h"

namespace dsv4::train {

struct RopeRows {  // cos / sin [positions, n_pairs] of one layer kind
  std::vector<float> cos, sin;
  int64_t n_pairs = 0;
  const float* c(int64_t pos) const { return cos.data() + pos * n_pairs; }
  const float* s(int64_t pos) const { return sin.data() + pos * n_pairs; }
};

// The engine's rotary table (model/rope.h) of one layer kind for positions [0, positions).
RopeRows make_rope_rows(const ModelConfig& c, bool compressed_layer, int64_t positions);

template <typename T>
struct CompressorCache {
  std::vector<T> u, z;       // [n, c*Dc] projections (z includes ape)
  std::vector<T> pooled, r;  // [b*E, Dc] before the norm, its rstd [b*E]
};

// a: [b*s, d] (b sequences of s tokens). entries: [b*E, Dc] with E = s / m (complete blocks).
template <typename T>
void compressor_fwd(const ModelConfig& c, const CompressorParams<T>& p, const RopeRows& rope, bool hadamard_out,
                    const T* a, int64_t b, int64_t s, T* entries, CompressorCache<T>& cache);
// dentries [b*E, Dc] -> parameter gradients +=, da += (da may be null: the indexer's input is detached).
template <typename T>
void compressor_bwd(const ModelConfig& c, const CompressorParams<T>& p, const RopeRows& rope, bool hadamard_out,
                    const T* a, int64_t b, int64_t s, const CompressorCache<T>& cache, const T* dentries, T* da);

}  // namespace dsv4::train

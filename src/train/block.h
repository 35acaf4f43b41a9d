// One V4 block in training (spec §2.2): HC-pre, attention, HC-post, HC-pre, MoE, HC-post, with the
// forward's saved values and the backward.
#pragma once
#include <cstdint>
#include <vector>

#include "train/attention.h"
#include "train/hc.h"
#include "train/moe.h"

namespace dsv4::train {

template <typename T>
struct BlockCache {
  std::vector<T> x, x1;                    // block input, state after the attention half [n, hc*d]
  HcPreCache<T> hc_a, hc_f;
  std::vector<T> a_raw, a_r, a, o;         // [n, d], [n], [n, d], [n, d]
  std::vector<T> f_raw, f_r, f, y;
  AttnCache<T> attn;
  MoeCache<T> moe;
};

// x: [b*s, hc*d] in, x_out [b*s, hc*d] out; tokens [b*s] (hash routing).
template <typename T>
void block_fwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* x, const int32_t* tokens,
               int64_t b, int64_t s, int64_t pos0, T* x_out, BlockCache<T>& cache);
// dx_out -> dx (overwritten), parameter gradients +=.
template <typename T>
void block_bwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, int64_t b, int64_t s, int64_t pos0,
               BlockCache<T>& cache, const T* dx_out, T* dx, T idx_weight);

}  // namespace dsv4::train

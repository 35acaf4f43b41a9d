// The V4 MoE in training (spec §2.12), forward and backward: sqrt-softplus router scores, selection
// by the frozen hash table (hash layers) or by top-k of score + bias (the bias only selects), weights
// normalized over the selected experts times routed_scaling_factor, SwiGLU experts with the clamp,
// plus the shared expert. The selection is not differentiable; the weights are.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "train/layer_params.h"

namespace dsv4::train {

template <typename T>
struct MoeCache {
  std::vector<T> logits, score;               // [n, E]
  std::vector<int32_t> sel;                   // [n, k] selected experts
  std::vector<T> weight;                      // [n, k]
  std::vector<std::vector<int64_t>> rows;     // per expert: (token * k + slot) it serves
  std::vector<std::vector<T>> g1, g3;         // per expert: w1 / w3 outputs [rows, F]
  std::vector<T> sg1, sg3;                    // shared expert [n, F]
  std::vector<int64_t> load;                  // tokens routed to each expert (the bias update's input)
};

// f: [n, d] ffn-normed input, tokens: [n] input token ids (hash routing) -> y [n, d].
template <typename T>
void moe_fwd(const ModelConfig& c, const BlockParams<T>& p, const T* f, const int32_t* tokens, int64_t n, T* y,
             MoeCache<T>& cache);
template <typename T>
void moe_bwd(const ModelConfig& c, const BlockParams<T>& p, const T* f, int64_t n, const MoeCache<T>& cache,
             const T* dy, T* df);

// Auxiliary-loss-free balancing (DeepSeek-V3 §2.1.2): each expert's selection bias moves by `rate`
// towards the mean load (up when underloaded, down when overloaded).
template <typename T>
void update_route_bias(const BlockParams<T>& p, const std::vector<int64_t>& load, T rate);

}  // namespace dsv4::train

// The whole V4 model in training: embedding and HC expansion, every block, HC head, final norm and
// LM head with the next-token cross-entropy, and the MTP block (spec §2.14) predicting the token
// after next from the main model's final HC state and the next token's embedding. One call runs the
// forward and (optionally) the backward of a batch; gradients accumulate into the Params.
#pragma once
#include <cstdint>
#include <vector>

#include "train/block.h"
#include "train/compressor.h"
#include "train/params.h"

namespace dsv4::train {

struct LossWeights {
  double mtp = 0.3;      // the MTP loss's weight (DeepSeek-V3 used 0.3, then 0.1)
  double indexer = 1.0;  // the indexers' KL loss's weight (reaches only the indexers)
};

template <typename T>
struct StepLoss {
  T main = 0, mtp = 0, indexer_kl = 0;  // mean cross-entropies (nats / token), mean KL over CSA layers
  T total() const { return main + mtp_weight * mtp; }
  T mtp_weight = 0;
};

template <typename T>
class TrainModel {
 public:
  TrainModel(Params<T>& params, LossWeights w = {});
  // tokens: b rows of s + 1 ids; position i of a row predicts id i + 1 (and, in the MTP block, i + 2).
  StepLoss<T> step(const int32_t* tokens, int64_t b, int64_t s, bool backward);
  // The main head's logits [b*s, V] of a forward over b rows of s ids (no loss).
  std::vector<T> logits(const int32_t* tokens, int64_t b, int64_t s);
  // Tokens each routed expert got in the last step, per block (main, then MTP; empty for hash
  // routing and for blocks that did not run).
  const std::vector<std::vector<int64_t>>& loads() const { return loads_; }
  std::vector<BlockParams<T>>& blocks() { return blocks_; }

 private:
  void forward(const int32_t* tokens, int64_t b, int64_t s, int64_t row_stride);
  const RopeRows& rope_for(const LayerSpec& l, int64_t positions);

  Params<T>& ps_;
  LossWeights w_;
  std::vector<BlockParams<T>> blocks_;  // main layers, then MTP
  RopeRows rope_window_, rope_comp_;
  std::vector<BlockCache<T>> caches_;
  std::vector<T> xf_;                   // final HC state [n, hc*d]
  std::vector<int32_t> in_;             // [n] input ids
  std::vector<std::vector<int64_t>> loads_;
};

extern template class TrainModel<float>;
extern template class TrainModel<double>;

}  // namespace dsv4::train

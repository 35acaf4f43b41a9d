// The training loop: batches drawn from a token stream, forward + backward (train/model.h), the
// optimizers (train/optim.h), the MoE selection-bias update, held-out evaluation, and a state file
// (parameters, optimizer moments, step) from which a resumed run continues bit for bit: a batch
// depends only on (seed, step), never on what ran before, and every reduction has a fixed order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/params.h"

namespace dsv4::train {

struct TrainOptions {
  int64_t steps = 1000;
  int64_t batch = 8;   // sequences per step
  int64_t seq = 128;   // tokens per sequence (each needs seq + 1 ids: inputs and targets)
  uint64_t seed = 1;
  OptimConfig optim;
  LossWeights loss;
  double bias_rate = 1e-3;      // the MoE selection bias's step (DeepSeek-V3: 0.001)
  int64_t eval_tokens = 16384;  // held-out tokens per evaluation
};

struct StepLog {
  int64_t step = 0;  // steps done after this one
  double loss = 0, main = 0, mtp = 0, indexer_kl = 0, grad_norm = 0, lr = 0;
  double seconds = 0;  // wall time of the step
  double gemm_flops = 0;  // floating-point operations of the step's matrix products (forward, backward, Muon)
};

class Trainer {
 public:
  Trainer(Params<float>& ps, TrainOptions o, std::vector<int32_t> train_tokens, std::vector<int32_t> heldout_tokens);
  int64_t step() const { return step_; }
  const TrainOptions& options() const { return o_; }
  StepLog train_step();
  // Mean next-token cross-entropy (nats) of the main head over disjoint held-out windows.
  double heldout_loss();
  // The rows of step `step` (b x (seq + 1) ids), for tests.
  std::vector<int32_t> batch_at(int64_t step) const;

  // State file: magic, version, step, the config's fingerprint, values, moments, hash tables and
  // a checksum; written to a temporary name and renamed, so a crash never leaves a torn file.
  Status save_state(const std::string& path) const;
  Status load_state(const std::string& path);

 private:
  Params<float>& ps_;
  TrainOptions o_;
  std::vector<int32_t> train_, heldout_;
  TrainModel<float> model_;
  Optimizer opt_;
  int64_t step_ = 0;
};

}  // namespace dsv4::train

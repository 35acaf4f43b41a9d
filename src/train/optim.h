// The trainer's optimizers (the V4 report trains with Muon): Muon (momentum, Nesterov, orthogonalized
// by 5 quintic Newton-Schulz iterations) for the hidden 2-D matrices, AdamW for everything else
// (params.h decides the group), one learning-rate schedule (linear warm-up, cosine decay to
// min_lr_ratio), global gradient-norm clipping, decoupled weight decay. Muon's update is rescaled
// by 0.2 sqrt(max(rows, cols)) so its RMS matches AdamW's (Moonlight, Liu et al. 2025) and both
// groups share one learning rate. Deterministic: no reductions depend on the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "train/params.h"

namespace dsv4::train {

struct OptimConfig {
  double lr = 3e-3;  // peak learning rate (both groups)
  double min_lr_ratio = 0.1;
  int64_t warmup = 50;
  int64_t total_steps = 1000;
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;  // AdamW
  double momentum = 0.95;                        // Muon
  int ns_steps = 5;
  double clip = 1.0;  // max global gradient norm (0 = off)
};

class Optimizer {
 public:
  Optimizer(const Params<float>& ps, OptimConfig cfg);
  const OptimConfig& config() const { return cfg_; }
  double lr_at(int64_t step) const;  // step counts from 0
  // Clips ps.grads to the global norm bound, then updates ps.values for `step`. Returns the norm
  // before clipping.
  double step(Params<float>& ps, int64_t step);
  // The moments, for checkpoints (train/state_io.h).
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }

 private:
  OptimConfig cfg_;
  std::vector<float> m_, v_;  // first moment (Muon: momentum buffer); second moment (AdamW only)
};

// Newton-Schulz orthogonalization of g [rows, cols] (in place), as Muon uses it: approximately
// U V^T of g's SVD (singular values pushed into ~[0.7, 1.2]). Exposed for tests.
void newton_schulz(float* g, int64_t rows, int64_t cols, int steps);

}  // namespace dsv4::train

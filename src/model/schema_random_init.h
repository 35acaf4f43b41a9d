// Random weights for any V4 config, in exactly the checkpoint layout of expected_tensors()
// (FP8 e4m3 + UE8M0 128x128 block scales, packed FP4 experts + per-32 scales, tid2eid tables, the
// MTP block). Magnitudes mimic the golden tiny checkpoints (measured with tests/data/golden_stats.py)
// so activations stay sane through the forward pass. Deterministic for a given seed: each tensor
// has its own generator seeded from (seed, tensor name), independent of the others.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "io/config.h"
#include "io/safetensors_writer.h"
#include "model/schema.h"

namespace dsv4 {

// One blob per entry of expected_tensors(cfg), in the same order.
std::vector<TensorBlob> random_checkpoint_tensors(const ModelConfig& cfg, uint64_t seed);

// The same tensors one at a time, for checkpoints larger than memory (make-model streams them
// into the shards). take(i) returns the bytes of specs()[i], bitwise what
// random_checkpoint_tensors() holds at i. A quantized weight and its scale come out of one
// quantization: taking one keeps the other until it is taken, so memory stays at about one tensor.
// Large tensors are generated on all hardware threads; the values do not depend on the count.
class RandomTensorSource {
 public:
  RandomTensorSource(const ModelConfig& cfg, uint64_t seed);
  const std::vector<TensorSpec>& specs() const { return specs_; }
  std::vector<uint8_t> take(size_t index);  // each index at most once

 private:
  ModelConfig cfg_;
  uint64_t seed_;
  std::vector<TensorSpec> specs_;
  std::map<std::string, size_t> index_;
  std::map<size_t, std::vector<uint8_t>> pending_;  // the sibling of a weight / scale already taken
};

}  // namespace dsv4

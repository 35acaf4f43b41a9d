// Random weights for any V4 config, in exactly the checkpoint layout of expected_tensors()
// (FP8 e4m3 + UE8M0 128x128 block scales, packed FP4 experts + per-32 scales, tid2eid tables, the
// MTP block). Magnitudes mimic the golden tiny checkpoints (measured with tests/data/golden_stats.py)
// so activations stay sane through the forward pass. Deterministic for a given seed: each tensor
// has its own generator seeded from (seed, tensor name), independent of the others.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "io/safetensors_writer.h"

namespace dsv4 {

// One blob per entry of expected_tensors(cfg), in the same order.
std::vector<TensorBlob> random_checkpoint_tensors(const ModelConfig& cfg, uint64_t seed);

}  // namespace dsv4

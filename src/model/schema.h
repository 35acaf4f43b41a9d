// The checkpoint schema of DeepSeek-V4 (spec §4.2): every tensor a checkpoint for a given config
// must contain, with its safetensors dtype and shape, and a checker that compares a checkpoint
// against it. All sizes come from the config (tiny test configs differ from the real models in
// every dimension), so this is the one place that turns a ModelConfig into tensor names.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "tensor/dtype.h"

namespace dsv4 {

// What a tensor's bytes mean; decides how it is counted (params) and how make-model fills it.
enum class TensorRole {
  kPlain,      // BF16 / F32 values used as they are
  kFp8Weight,  // F8_E4M3 [out, in] with a sibling `.scale` (kBlockScale)
  kBlockScale, // F8_E8M0 [ceil(out/128), ceil(in/128)] scale of an FP8 weight
  kFp4Weight,  // I8 [out, in/2]: two e2m1 codes per byte (low nibble = even element)
  kFp4Scale,   // F8_E8M0 [out, in/32] scale of an FP4 weight
  kHashTable,  // I64 tid2eid [vocab, k]: frozen expert ids per token (not a parameter)
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::kBF16;
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::kPlain;
  int layer = -1;        // -1 for top-level tensors; layer index (MTP blocks follow the main layers)
  bool is_mtp = false;   // under mtp.N.
  int expert = -1;       // routed expert id, -1 otherwise

  int64_t numel() const;
  int64_t nbytes() const;
  // Logical parameters: FP4 bytes hold 2 each; scales and the hash table are not parameters.
  int64_t params() const;
};

// Every tensor of the checkpoint in a fixed order: embed, layers 0.., MTP blocks, then the head,
// final norm and HC head.
std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg);

// One line per problem: a missing tensor, an unexpected tensor, a dtype or shape mismatch; each
// names the tensor and the expected and actual dtype/shape. Empty when the checkpoint matches.
std::vector<std::string> checkpoint_problems(const ModelConfig& cfg, const Checkpoint& ck);

// Ok when checkpoint_problems() is empty; otherwise an error with the first problem (and how many
// more there are).
Status check_checkpoint(const ModelConfig& cfg, const Checkpoint& ck);

std::string shape_to_string(const std::vector<int64_t>& shape);  // "[a, b]"

// The shard (0-based) of each tensor of `specs` (expected_tensors order) when a checkpoint is
// written: small models (up to 4 GiB) keep the golden checkpoints' layout, the embedding and the
// first half of the layers in shard 1, the rest, the MTP block, head, final norm and HC head in
// shard 2; larger ones are cut into shards of about 4 GiB in schema order, as the HF snapshots are.
std::vector<int> checkpoint_shards(const ModelConfig& cfg, const std::vector<TensorSpec>& specs);

}  // namespace dsv4

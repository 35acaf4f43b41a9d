// The trainer's parameters: one full-precision master copy of every tensor of the checkpoint schema
// (model/schema.h), named as the published checkpoints name them, in one flat array with a gradient
// array of the same layout (the optimizer, clipping, checkpoints and gradient checks all walk the
// flat arrays). FP8 / FP4 weights become plain [out, in] matrices here; their scales do not exist
// until export. The frozen tid2eid hash tables are kept as integers, outside the arrays.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/config.h"

namespace dsv4::train {

// How a tensor is updated (train/optim.h).
enum class ParamGroup {
  kMuon,    // hidden 2-D weight matrices: orthogonalized momentum
  kAdamW,   // embedding, head, norms, HC parameters, sinks, positional biases
  kBuffer,  // no gradient: the MoE selection bias (updated by the load-balancing rule)
};

struct ParamEntry {
  std::string name;
  std::vector<int64_t> shape;  // logical (an FP4 weight's [out, in], not its packed bytes)
  int64_t offset = 0, numel = 0;
  ParamGroup group = ParamGroup::kAdamW;
  bool weight_decay = false;  // AdamW decay applies to matrices only
};

template <typename T>
class Params {
 public:
  explicit Params(const ModelConfig& cfg);
  const ModelConfig& config() const { return cfg_; }
  const std::vector<ParamEntry>& entries() const { return entries_; }
  const ParamEntry* find(std::string_view name) const;
  // The tensor's values / gradient; the name must exist (asserted: names come from the schema).
  T* value(std::string_view name);
  const T* value(std::string_view name) const;
  T* grad(std::string_view name);
  const int32_t* hash_table(std::string_view name) const;  // [vocab, k] or null
  std::vector<int32_t>& hash_table_mut(const std::string& name) { return hash_[name]; }
  const std::map<std::string, std::vector<int32_t>, std::less<>>& hash_tables() const { return hash_; }

  std::vector<T> values, grads;
  void zero_grad();

  // Fresh weights for training from scratch, deterministic in `seed` (train/init.cc).
  void init_random(uint64_t seed);
  // Values of an exported (or published) checkpoint, dequantized exactly (FP8 x UE8M0, FP4 x UE8M0,
  // BF16, F32) (train/export.cc).
  Status load_checkpoint(const std::string& path);

  // A copy in another precision (the same layout).
  template <typename U>
  void copy_values_from(const Params<U>& o) {
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<T>(o.values[i]);
    hash_ = o.hash_tables_copy();
  }
  std::map<std::string, std::vector<int32_t>, std::less<>> hash_tables_copy() const { return hash_; }

 private:
  ModelConfig cfg_;
  std::vector<ParamEntry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::vector<int32_t>, std::less<>> hash_;
};

extern template class Params<float>;
extern template class Params<double>;

}  // namespace dsv4::train

// A checkpoint directory: config.json plus one safetensors file or shards listed in
// model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard}}).
// All shards are mmap'd; tensors are looked up by their Hugging Face name.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/safetensors.h"

namespace dsv4 {

class Checkpoint {
 public:
  // `path` is a directory (with model.safetensors.index.json or a single *.safetensors) or a file.
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& path);

  const std::string& dir() const { return dir_; }
  const TensorInfo* find(std::string_view name) const;
  // Every tensor of every shard, sorted by name.
  std::vector<const TensorInfo*> tensors() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorInfo*, std::less<>> by_name_;
};

}  // namespace dsv4

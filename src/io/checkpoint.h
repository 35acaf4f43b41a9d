// A checkpoint directory: config.json plus one safetensors file or shards listed in
// model.safetensors.index.json ({"metadata": {...}, "weight_map": {tensor: shard}}).
// All shards are mmap'd; tensors are looked up by their Hugging Face name.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/safetensors.h"

namespace dsv4 {

// The content of model.safetensors.index.json that matters: which shard holds each tensor.
struct SafetensorsIndex {
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name
  std::vector<std::string> shards;                // distinct shard names, sorted
};

// Parses an index file's text. Rejects malformed JSON, duplicate keys, a missing or empty
// weight_map, non-string entries and shard names that are not plain file names (no '/', '\\',
// NUL, "." or ".."). Errors start with `label` (the index path) and name the tensor.
Result<SafetensorsIndex> parse_safetensors_index(std::string_view text, std::string_view label);

class Checkpoint {
 public:
  // `path` is a directory (with model.safetensors.index.json or a single *.safetensors) or a file
  // (a *.safetensors, or a *.gguf of llama.cpp's deepseek4 architecture: io/gguf_checkpoint.h).
  // With an index, every listed shard must exist, every listed tensor must be in its shard, and
  // every tensor of a shard must be listed under that shard; a name may appear in one shard only.
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& path);
  // The same, but with an index only the shards holding at least one tensor `wanted` accepts are
  // opened (and mapped): a pipeline stage maps only its layers' shards. Tensors of the shards
  // left closed are unknown to find() (the index entries of the opened shards are still checked).
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& path,
                                                  const std::function<bool(std::string_view)>& wanted);
  int64_t shards_listed() const { return shards_listed_; }  // shards in the index (or 1)
  // A checkpoint whose tensors are stored elsewhere: a GGUF file translated to Hugging Face names
  // and dtypes (io/gguf_checkpoint.h). `keep` owns every byte the tensors point into; each
  // tensor's `file` is set to `source` (the file named in error messages).
  static std::unique_ptr<Checkpoint> from_tensors(std::string source, std::vector<TensorInfo> tensors,
                                                  std::shared_ptr<const void> keep);
  // Where the tensors come from: "safetensors" or the translated format ("gguf").
  const std::string& format() const { return format_; }
  // Notes about the translation (e.g. tensors dequantized at load), for `dsv4 info`.
  std::vector<std::string> notes;

  const std::string& dir() const { return dir_; }
  const TensorInfo* find(std::string_view name) const;
  // Every tensor of every shard, sorted by name.
  std::vector<const TensorInfo*> tensors() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  std::string dir_;
  std::string format_ = "safetensors";
  int64_t shards_listed_ = 0;
  std::string source_;
  std::vector<TensorInfo> own_tensors_;
  std::shared_ptr<const void> keep_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorInfo*, std::less<>> by_name_;
};

}  // namespace dsv4

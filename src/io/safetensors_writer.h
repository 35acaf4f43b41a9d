// Safetensors writer in the exact layout of the official DeepSeek-V4 shards (golden README):
// 8-byte little-endian header length, compact JSON header with "__metadata__" first and then the
// tensors in data order, header padded with spaces to a multiple of 8, tensors stored contiguously
// sorted by (dtype size descending, name). The sharded form writes model-0000i-of-0000n.safetensors
// plus model.safetensors.index.json {"metadata": {"total_size": N}, "weight_map": {...}}.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "tensor/dtype.h"

namespace dsv4 {

// A tensor held in memory, ready to be written. `bytes` holds numel * dtype_size bytes (little endian).
struct TensorBlob {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// The order tensors are laid out in a file: dtype size descending, then name (bytewise).
bool safetensors_order_less(const TensorBlob& a, const TensorBlob& b);

// Writes one file. Errors (a byte count that does not match the shape, a duplicate name, an I/O
// failure) name the file and the tensor.
Status write_safetensors(const std::string& path, const std::vector<const TensorBlob*>& tensors,
                         const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes `tensors` into dir as shards: tensor i goes to shard shard_of[i] (0-based; every shard
// index in [0, max] must be used). Creates dir if needed. Also writes model.safetensors.index.json.
Status write_sharded_safetensors(const std::string& dir, const std::vector<TensorBlob>& tensors,
                                 const std::vector<int>& shard_of);

// Streaming form for checkpoints larger than memory: the header of every shard is computed up front
// from names, dtypes and shapes alone, then `produce(i)` is called once per tensor, in file order,
// and its bytes are written and dropped before the next call. Same bytes on disk as
// write_sharded_safetensors() given the same tensors.
struct TensorMeta {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
};
using TensorProducer = std::function<Result<std::vector<uint8_t>>(size_t index)>;
Status write_sharded_safetensors_streaming(const std::string& dir, const std::vector<TensorMeta>& tensors,
                                           const std::vector<int>& shard_of, const TensorProducer& produce);

std::string shard_file_name(int index, int count);  // "model-00001-of-00002.safetensors"

}  // namespace dsv4

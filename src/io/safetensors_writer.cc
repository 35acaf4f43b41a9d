#include "io/safetensors_writer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dsv4 {
namespace fs = std::filesystem;

bool safetensors_order_less(const TensorBlob& a, const TensorBlob& b) {
  const size_t sa = dtype_size(a.dtype), sb = dtype_size(b.dtype);
  if (sa != sb) return sa > sb;
  return a.name < b.name;
}

std::string shard_file_name(int index, int count) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

Status write_safetensors(const std::string& path, const std::vector<const TensorBlob*>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorBlob*> order = tensors;
  std::stable_sort(order.begin(), order.end(),
                   [](const TensorBlob* a, const TensorBlob* b) { return safetensors_order_less(*a, *b); });
  // ordered_json keeps insertion order: __metadata__ first, then the tensors in data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const TensorBlob* t : order) {
    if (t->name.empty() || t->name == "__metadata__") return error("{}: invalid tensor name '{}'", path, t->name);
    if (!seen.insert(t->name).second) return error("{}: duplicate tensor '{}'", path, t->name);
    uint64_t numel = 1;
    for (int64_t s : t->shape) {
      if (s < 0) return error("{}: tensor '{}': negative dimension", path, t->name);
      numel *= static_cast<uint64_t>(s);
    }
    if (numel * dtype_size(t->dtype) != t->bytes.size())
      return error("{}: tensor '{}': {} bytes but shape needs {}", path, t->name, t->bytes.size(),
                   numel * dtype_size(t->dtype));
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = std::string(dtype_name(t->dtype));
    e["shape"] = t->shape;
    e["data_offsets"] = {offset, offset + t->bytes.size()};
    header[t->name] = std::move(e);
    offset += t->bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error("{}: cannot create file", path);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const TensorBlob* t : order)
    out.write(reinterpret_cast<const char*>(t->bytes.data()), static_cast<std::streamsize>(t->bytes.size()));
  out.close();
  if (!out) return error("{}: write failed", path);
  return ok_status();
}

Status write_sharded_safetensors(const std::string& dir, const std::vector<TensorBlob>& tensors,
                                 const std::vector<int>& shard_of) {
  if (shard_of.size() != tensors.size())
    return error("{}: {} tensors but {} shard assignments", dir, tensors.size(), shard_of.size());
  int n_shards = 0;
  for (int s : shard_of) {
    if (s < 0) return error("{}: negative shard index", dir);
    n_shards = std::max(n_shards, s + 1);
  }
  std::vector<std::vector<const TensorBlob*>> shards(n_shards);
  for (size_t i = 0; i < tensors.size(); ++i) shards[shard_of[i]].push_back(&tensors[i]);
  for (int s = 0; s < n_shards; ++s)
    if (shards[s].empty()) return error("{}: shard {} has no tensors", dir, s + 1);

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error("{}: cannot create directory: {}", dir, ec.message());
  nlohmann::json weight_map = nlohmann::json::object();  // sorted by name, like the official index
  uint64_t total = 0;
  for (int s = 0; s < n_shards; ++s) {
    const std::string name = shard_file_name(s, n_shards);
    DSV4_TRY(write_safetensors((fs::path(dir) / name).string(), shards[s]));
    for (const TensorBlob* t : shards[s]) {
      weight_map[t->name] = name;
      total += t->bytes.size();
    }
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  std::ofstream out(index_path, std::ios::binary | std::ios::trunc);
  if (!out) return error("{}: cannot create file", index_path);
  out << index.dump(2) << "\n";
  out.close();
  if (!out) return error("{}: write failed", index_path);
  return ok_status();
}

}  // namespace dsv4

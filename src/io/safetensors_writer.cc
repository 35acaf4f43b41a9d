#include "io/safetensors_writer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace dsv4 {
namespace fs = std::filesystem;
namespace {

bool order_less(DType da, const std::string& na, DType db, const std::string& nb) {
  const size_t sa = dtype_size(da), sb = dtype_size(db);
  if (sa != sb) return sa > sb;
  return na < nb;
}

// Byte size of a tensor from its shape; an error for a negative dimension.
Result<uint64_t> shape_bytes(const std::string& path, const TensorMeta& t) {
  uint64_t numel = 1;
  for (int64_t s : t.shape) {
    if (s < 0) return error("{}: tensor '{}': negative dimension", path, t.name);
    numel *= static_cast<uint64_t>(s);
  }
  return numel * dtype_size(t.dtype);
}

// The compact JSON header (padded to a multiple of 8) for tensors already in file order.
Result<std::string> make_header(const std::string& path, const std::vector<const TensorMeta*>& order,
                                const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps insertion order: __metadata__ first, then the tensors in data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const TensorMeta* t : order) {
    if (t->name.empty() || t->name == "__metadata__") return error("{}: invalid tensor name '{}'", path, t->name);
    if (!seen.insert(t->name).second) return error("{}: duplicate tensor '{}'", path, t->name);
    DSV4_ASSIGN_OR_RETURN(const uint64_t n, shape_bytes(path, *t));
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = std::string(dtype_name(t->dtype));
    e["shape"] = t->shape;
    e["data_offsets"] = {offset, offset + n};
    header[t->name] = std::move(e);
    offset += n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// Writes one file: length, header, then write_data(k, out) for the k-th tensor of `order`.
Status write_file(const std::string& path, const std::vector<const TensorMeta*>& order,
                  const std::map<std::string, std::string>& metadata,
                  const std::function<Status(size_t k, std::ofstream& out)>& write_data) {
  DSV4_ASSIGN_OR_RETURN(const std::string text, make_header(path, order, metadata));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error("{}: cannot create file", path);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (size_t k = 0; k < order.size(); ++k) DSV4_TRY(write_data(k, out));
  out.close();
  if (!out) return error("{}: write failed", path);
  return ok_status();
}

std::vector<const TensorMeta*> file_order(std::vector<const TensorMeta*> v) {
  std::stable_sort(v.begin(), v.end(), [](const TensorMeta* a, const TensorMeta* b) {
    return order_less(a->dtype, a->name, b->dtype, b->name);
  });
  return v;
}

Status write_index(const std::string& dir, const nlohmann::json& weight_map, uint64_t total) {
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  std::ofstream out(index_path, std::ios::binary | std::ios::trunc);
  if (!out) return error("{}: cannot create file", index_path);
  out << index.dump(2) << "\n";
  out.close();
  if (!out) return error("{}: write failed", index_path);
  return ok_status();
}

// Shard s's tensor indices; errors for a bad assignment or an empty shard.
Result<std::vector<std::vector<size_t>>> group_shards(const std::string& dir, size_t n_tensors,
                                                      const std::vector<int>& shard_of) {
  if (shard_of.size() != n_tensors)
    return error("{}: {} tensors but {} shard assignments", dir, n_tensors, shard_of.size());
  int n_shards = 0;
  for (int s : shard_of) {
    if (s < 0) return error("{}: negative shard index", dir);
    n_shards = std::max(n_shards, s + 1);
  }
  std::vector<std::vector<size_t>> shards(n_shards);
  for (size_t i = 0; i < n_tensors; ++i) shards[shard_of[i]].push_back(i);
  for (int s = 0; s < n_shards; ++s)
    if (shards[s].empty()) return error("{}: shard {} has no tensors", dir, s + 1);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error("{}: cannot create directory: {}", dir, ec.message());
  return shards;
}

}  // namespace

bool safetensors_order_less(const TensorBlob& a, const TensorBlob& b) {
  return order_less(a.dtype, a.name, b.dtype, b.name);
}

std::string shard_file_name(int index, int count) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

Status write_safetensors(const std::string& path, const std::vector<const TensorBlob*>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<TensorMeta> metas;
  metas.reserve(tensors.size());
  for (const TensorBlob* t : tensors) metas.push_back({t->name, t->dtype, t->shape});
  std::vector<const TensorMeta*> ptrs;
  for (const TensorMeta& m : metas) ptrs.push_back(&m);
  const std::vector<const TensorMeta*> order = file_order(ptrs);
  // Byte counts are checked before anything is written (as names and shapes are by the header).
  DSV4_TRY(make_header(path, order, metadata).status());
  for (const TensorMeta* m : order) {
    const TensorBlob* t = tensors[static_cast<size_t>(m - metas.data())];
    const uint64_t need = *shape_bytes(path, *m);
    if (need != t->bytes.size())
      return error("{}: tensor '{}': {} bytes but shape needs {}", path, t->name, t->bytes.size(), need);
  }
  return write_file(path, order, metadata, [&](size_t k, std::ofstream& out) {
    const TensorBlob* t = tensors[static_cast<size_t>(order[k] - metas.data())];
    out.write(reinterpret_cast<const char*>(t->bytes.data()), static_cast<std::streamsize>(t->bytes.size()));
    return ok_status();
  });
}

Status write_sharded_safetensors(const std::string& dir, const std::vector<TensorBlob>& tensors,
                                 const std::vector<int>& shard_of) {
  DSV4_ASSIGN_OR_RETURN(const auto shards, group_shards(dir, tensors.size(), shard_of));
  nlohmann::json weight_map = nlohmann::json::object();  // sorted by name, like the official index
  uint64_t total = 0;
  const int n_shards = static_cast<int>(shards.size());
  for (int s = 0; s < n_shards; ++s) {
    const std::string name = shard_file_name(s, n_shards);
    std::vector<const TensorBlob*> blobs;
    for (size_t i : shards[s]) blobs.push_back(&tensors[i]);
    DSV4_TRY(write_safetensors((fs::path(dir) / name).string(), blobs));
    for (const TensorBlob* t : blobs) {
      weight_map[t->name] = name;
      total += t->bytes.size();
    }
  }
  return write_index(dir, weight_map, total);
}

Status write_sharded_safetensors_streaming(const std::string& dir, const std::vector<TensorMeta>& tensors,
                                           const std::vector<int>& shard_of, const TensorProducer& produce) {
  DSV4_ASSIGN_OR_RETURN(const auto shards, group_shards(dir, tensors.size(), shard_of));
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  const int n_shards = static_cast<int>(shards.size());
  for (int s = 0; s < n_shards; ++s) {
    const std::string name = shard_file_name(s, n_shards);
    const std::string path = (fs::path(dir) / name).string();
    std::vector<const TensorMeta*> metas;
    for (size_t i : shards[s]) metas.push_back(&tensors[i]);
    const std::vector<const TensorMeta*> order = file_order(metas);
    DSV4_TRY(write_file(path, order, {{"format", "pt"}}, [&](size_t k, std::ofstream& out) -> Status {
      const TensorMeta& m = *order[k];
      DSV4_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, produce(static_cast<size_t>(&m - tensors.data())));
      const uint64_t need = *shape_bytes(path, m);
      if (need != bytes.size())
        return error("{}: tensor '{}': produced {} bytes but shape needs {}", path, m.name, bytes.size(), need);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      if (!out) return error("{}: write failed", path);
      total += bytes.size();
      weight_map[m.name] = name;
      return ok_status();
    }));
  }
  return write_index(dir, weight_map, total);
}

}  // namespace dsv4

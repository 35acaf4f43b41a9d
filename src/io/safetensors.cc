#include "io/safetensors.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace dsv4 {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Result<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> bytes, uint64_t file_size,
                                                   std::string_view label) {
  if (file_size < 8 || bytes.size() < 8) return error("{}: truncated: no 8-byte header length", label);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | bytes[i];
  if (hlen > file_size - 8) return error("{}: header length {} exceeds file size {}", label, hlen, file_size);
  if (hlen > bytes.size() - 8) return error("{}: header length {} exceeds the bytes read", label, hlen);
  if (hlen > (100u << 20)) return error("{}: header length {} is implausibly large", label, hlen);
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), hlen);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("{}: header is not valid JSON", label);
  if (!j.is_object()) return error("{}: header JSON is not an object", label);

  SafetensorsHeader h;
  h.data_offset = 8 + hlen;
  const uint64_t data_size = file_size - h.data_offset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return error("{}: __metadata__ is not an object", label);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return error("{}: __metadata__.{} is not a string", label, m.key());
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) return error("{}: tensor '{}': entry is not an object", label, name);
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return error("{}: tensor '{}': missing dtype", label, name);
    if (sh == v.end() || !sh->is_array()) return error("{}: tensor '{}': missing shape", label, name);
    if (off == v.end() || !off->is_array() || off->size() != 2)
      return error("{}: tensor '{}': data_offsets must be [begin, end]", label, name);
    TensorInfo t;
    t.name = name;
    auto dtype = dtype_from_name(dt->get<std::string>());
    if (!dtype) return error("{}: tensor '{}': unknown dtype '{}'", label, name, dt->get<std::string>());
    t.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        return error("{}: tensor '{}': shape entries must be non-negative integers", label, name);
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim)
        return error("{}: tensor '{}': shape overflows", label, name);
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    for (const auto& o : *off)
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0))
        return error("{}: tensor '{}': data_offsets must be non-negative integers", label, name);
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.end < t.begin) return error("{}: tensor '{}': data_offsets end < begin", label, name);
    if (t.end > data_size)
      return error("{}: tensor '{}': data_offsets [{}, {}] outside the data section ({} bytes)", label, name,
                   t.begin, t.end, data_size);
    const uint64_t want = numel * dtype_size(t.dtype);
    if (t.end - t.begin != want)
      return error("{}: tensor '{}': {} bytes but shape {} x {} needs {}", label, name, t.end - t.begin,
                   t.shape_string(), dtype_name(t.dtype), want);
    h.tensors.push_back(std::move(t));
  }
  // nlohmann's object keeps unique keys (a duplicate silently overwrites), so check the raw text.
  {
    std::vector<std::string> names;
    names.reserve(h.tensors.size());
    for (const auto& t : h.tensors) names.push_back(t.name);
    size_t quoted = 0;
    // Count top-level occurrences of "data_offsets": one per tensor entry.
    for (size_t p = text.find("\"data_offsets\""); p != std::string_view::npos;
         p = text.find("\"data_offsets\"", p + 1))
      ++quoted;
    if (quoted > h.tensors.size()) return error("{}: duplicate tensor names in header", label);
  }
  std::vector<const TensorInfo*> order;
  for (const auto& t : h.tensors) if (t.end > t.begin) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i]->begin < order[i - 1]->end)
      return error("{}: tensors '{}' and '{}' overlap", label, order[i - 1]->name, order[i]->name);
  return h;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string& path) {
  DSV4_ASSIGN_OR_RETURN(auto mf, MappedFile::open(path));
  std::span<const uint8_t> bytes(mf->data(), mf->size());
  DSV4_ASSIGN_OR_RETURN(auto header, parse_safetensors_header(bytes, mf->size(), path));
  auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  f->file_ = std::move(mf);
  f->header_ = std::move(header);
  for (size_t i = 0; i < f->header_.tensors.size(); ++i) {
    auto& t = f->header_.tensors[i];
    t.data = f->file_->data() + f->header_.data_offset + t.begin;
    t.file = &f->file_->path();
    f->index_.emplace(t.name, i);
  }
  return f;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

}  // namespace dsv4

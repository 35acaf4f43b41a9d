#include "io/safetensors.h"

#include <algorithm>
#include <limits>

#include "io/strict_json.h"

namespace dsv4 {
namespace {

// The reference implementation's cap: a bigger header is treated as hostile.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

bool is_non_negative_integer(const nlohmann::json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

// Validates one `"name": {...}` entry into `t` (offsets still relative to the data section).
Status parse_tensor_entry(const std::string& name, const nlohmann::json& v, std::string_view label,
                          TensorInfo& t) {
  if (!v.is_object()) return error("{}: tensor '{}': entry is not an object", label, name);
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) return error("{}: tensor '{}': missing dtype string", label, name);
  if (sh == v.end() || !sh->is_array()) return error("{}: tensor '{}': missing shape array", label, name);
  if (off == v.end() || !off->is_array() || off->size() != 2)
    return error("{}: tensor '{}': data_offsets must be [begin, end]", label, name);
  t.name = name;
  const std::string& dtype_str = dt->get_ref<const std::string&>();
  auto dtype = dtype_from_name(dtype_str);
  if (!dtype) return error("{}: tensor '{}': unsupported dtype '{}'", label, name, dtype_str);
  t.dtype = *dtype;
  // numel * 8 must fit in uint64 and every dim in int64: bound numel by 2^60.
  constexpr uint64_t kMaxNumel = uint64_t{1} << 60;
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    if (!is_non_negative_integer(d))
      return error("{}: tensor '{}': shape entries must be non-negative integers", label, name);
    const uint64_t dim = d.get<uint64_t>();
    if (dim > kMaxNumel || (dim != 0 && numel > kMaxNumel / dim))
      return error("{}: tensor '{}': shape {} overflows", label, name, sh->dump());
    numel *= dim;
    t.shape.push_back(static_cast<int64_t>(dim));
  }
  for (const auto& o : *off)
    if (!is_non_negative_integer(o))
      return error("{}: tensor '{}': data_offsets must be non-negative integers", label, name);
  t.begin = (*off)[0].get<uint64_t>();
  t.end = (*off)[1].get<uint64_t>();
  if (t.end < t.begin)
    return error("{}: tensor '{}': data_offsets [{}, {}] end before begin", label, name, t.begin, t.end);
  const uint64_t want = numel * dtype_size(t.dtype);
  if (t.end - t.begin != want)
    return error("{}: tensor '{}': data_offsets cover {} bytes but shape {} x {} needs {}", label, name,
                 t.end - t.begin, t.shape_string(), dtype_name(t.dtype), want);
  return ok_status();
}

// The tensors must tile the data section exactly: no overlap, no hole, no trailing bytes (the
// format's rule, enforced by the reference reader; it rules out polyglot files and guarantees that
// no byte is read as two tensors).
Status check_layout(const SafetensorsHeader& h, uint64_t data_size, std::string_view label) {
  std::vector<const TensorInfo*> order;
  order.reserve(h.tensors.size());
  for (const auto& t : h.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : order) {
    if (t->end > data_size)
      return error("{}: tensor '{}': data_offsets [{}, {}] outside the data section ({} bytes)", label, t->name,
                   t->begin, t->end, data_size);
    if (t->begin < covered)
      return error("{}: tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", label, prev->name,
                   t->name, prev->begin, prev->end, t->begin, t->end);
    if (t->begin > covered)
      return error("{}: tensor '{}': {} unused bytes before its data_offsets [{}, {}] (the data section must "
                   "have no holes)",
                   label, t->name, t->begin - covered, t->begin, t->end);
    // Typed views read the mapping in place; the page-aligned mapping plus this check keeps every
    // element naturally aligned (both official writers pad the header to 8 bytes to ensure it).
    if ((h.data_offset + t->begin) % dtype_size(t->dtype) != 0)
      return error("{}: tensor '{}': data at file offset {} is not aligned to its {}-byte {} elements", label,
                   t->name, h.data_offset + t->begin, dtype_size(t->dtype), dtype_name(t->dtype));
    covered = t->end;
    prev = t;
  }
  if (covered != data_size)
    return error("{}: {} trailing bytes after the last tensor{} (the data section must have no holes)", label,
                 data_size - covered, prev ? fmt::format(" '{}'", prev->name) : std::string());
  return ok_status();
}

}  // namespace

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
  if (hlen > file_size - 8) return error("{}: header length {} exceeds the file size {}", label, hlen, file_size);
  if (hlen > kMaxHeaderBytes) return error("{}: header length {} is implausibly large", label, hlen);
  if (hlen > bytes.size() - 8) return error("{}: header length {} exceeds the {} bytes read", label, hlen, bytes.size());
  std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), hlen);
  if (text.empty() || text.front() != '{') return error("{}: header does not start with '{{'", label);
  DSV4_ASSIGN_OR_RETURN(nlohmann::json j, parse_json_strict(text, fmt::format("{}: header", label)));
  if (!j.is_object()) return error("{}: header JSON is not an object", label);

  SafetensorsHeader h;
  h.data_offset = 8 + hlen;
  h.tensors.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return error("{}: __metadata__ is not an object", label);
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return error("{}: __metadata__['{}'] is not a string", label, m.key());
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    TensorInfo t;
    DSV4_TRY(parse_tensor_entry(name, v, label, t));
    h.tensors.push_back(std::move(t));
  }
  DSV4_TRY(check_layout(h, file_size - h.data_offset, label));
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

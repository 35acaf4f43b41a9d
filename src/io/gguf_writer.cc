#include "io/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

namespace dsv4 {
namespace {

class Out {
 public:
  void u8(uint8_t v) { buf.push_back(v); }
  template <typename T>
  void put(T v) {
    const size_t n = buf.size();
    buf.resize(n + sizeof(T));
    std::memcpy(buf.data() + n, &v, sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    buf.insert(buf.end(), s.begin(), s.end());
  }
  std::vector<uint8_t> buf;
};

void put_scalar(Out& o, GgufValueType t, int64_t i, double f, const std::string& s) {
  switch (t) {
    case GgufValueType::kU8: o.put<uint8_t>(static_cast<uint8_t>(i)); break;
    case GgufValueType::kI8: o.put<int8_t>(static_cast<int8_t>(i)); break;
    case GgufValueType::kU16: o.put<uint16_t>(static_cast<uint16_t>(i)); break;
    case GgufValueType::kI16: o.put<int16_t>(static_cast<int16_t>(i)); break;
    case GgufValueType::kU32: o.put<uint32_t>(static_cast<uint32_t>(i)); break;
    case GgufValueType::kI32: o.put<int32_t>(static_cast<int32_t>(i)); break;
    case GgufValueType::kU64: o.put<uint64_t>(static_cast<uint64_t>(i)); break;
    case GgufValueType::kI64: o.put<int64_t>(i); break;
    case GgufValueType::kBool: o.put<uint8_t>(i ? 1 : 0); break;
    case GgufValueType::kF32: o.put<float>(static_cast<float>(f)); break;
    case GgufValueType::kF64: o.put<double>(f); break;
    case GgufValueType::kString: o.str(s); break;
    case GgufValueType::kArray: break;
  }
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue v) {
  for (Kv& e : kv_)
    if (e.key == key) {
      e.value = std::move(v);
      return;
    }
  kv_.push_back({key, std::move(v)});
}

void GgufWriter::set_u32(const std::string& k, uint32_t v) { GgufValue x; x.type = GgufValueType::kU32; x.i = v; set(k, x); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { GgufValue x; x.type = GgufValueType::kI32; x.i = v; set(k, x); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) {
  GgufValue x; x.type = GgufValueType::kU64; x.i = static_cast<int64_t>(v); set(k, x);
}
void GgufWriter::set_f32(const std::string& k, float v) { GgufValue x; x.type = GgufValueType::kF32; x.f = v; set(k, x); }
void GgufWriter::set_bool(const std::string& k, bool v) { GgufValue x; x.type = GgufValueType::kBool; x.i = v; set(k, x); }
void GgufWriter::set_string(const std::string& k, std::string v) {
  GgufValue x; x.type = GgufValueType::kString; x.s = std::move(v); set(k, x);
}
void GgufWriter::set_i32_array(const std::string& k, const std::vector<int32_t>& v) {
  GgufValue x; x.type = GgufValueType::kArray; x.elem = GgufValueType::kI32; x.ints.assign(v.begin(), v.end()); set(k, x);
}
void GgufWriter::set_u32_array(const std::string& k, const std::vector<uint32_t>& v) {
  GgufValue x; x.type = GgufValueType::kArray; x.elem = GgufValueType::kU32; x.ints.assign(v.begin(), v.end()); set(k, x);
}
void GgufWriter::set_f32_array(const std::string& k, const std::vector<float>& v) {
  GgufValue x; x.type = GgufValueType::kArray; x.elem = GgufValueType::kF32; x.floats.assign(v.begin(), v.end()); set(k, x);
}
void GgufWriter::set_string_array(const std::string& k, std::vector<std::string> v) {
  GgufValue x; x.type = GgufValueType::kArray; x.elem = GgufValueType::kString; x.strings = std::move(v); set(k, x);
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, Producer produce) {
  tensors_.push_back({std::move(name), type, std::move(ne), std::move(produce)});
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> bytes) {
  auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  add_tensor(std::move(name), type, std::move(ne), [shared](std::vector<uint8_t>& out) {
    out = *shared;
    return ok_status();
  });
}

Status GgufWriter::write(const std::string& path) const {
  uint64_t alignment = 32;
  for (const Kv& e : kv_)
    if (e.key == "general.alignment") alignment = static_cast<uint64_t>(e.value.i);
  if (alignment == 0 || (alignment & (alignment - 1))) return error("{}: alignment {} is not a power of two", path, alignment);

  Out h;
  h.put<uint32_t>(0x46554747u);
  h.put<uint32_t>(3);
  h.put<uint64_t>(tensors_.size());
  h.put<uint64_t>(kv_.size());
  for (const Kv& e : kv_) {
    h.str(e.key);
    h.put<uint32_t>(static_cast<uint32_t>(e.value.type));
    if (e.value.type == GgufValueType::kArray) {
      const GgufValue& v = e.value;
      h.put<uint32_t>(static_cast<uint32_t>(v.elem));
      h.put<uint64_t>(v.array_size());
      for (int64_t x : v.ints) put_scalar(h, v.elem, x, 0, {});
      for (double x : v.floats) put_scalar(h, v.elem, 0, x, {});
      for (const std::string& x : v.strings) put_scalar(h, v.elem, 0, 0, x);
    } else {
      put_scalar(h, e.value.type, e.value.i, e.value.f, e.value.s);
    }
  }
  std::vector<uint64_t> sizes;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const Pending& t : tensors_) {
    if (!names.insert(t.name).second) return error("{}: duplicate tensor name '{}'", path, t.name);
    if (t.name.empty() || t.name.size() >= 64) return error("{}: tensor name '{}' must have 1 to 63 bytes", path, t.name);
    if (t.ne.empty() || t.ne.size() > 4) return error("{}: tensor '{}' has {} dimensions", path, t.name, t.ne.size());
    auto row = ggml_row_bytes(t.type, t.ne[0]);
    if (!row)
      return error("{}: tensor '{}' has ne[0] = {}, not a whole number of {} blocks", path, t.name, t.ne[0],
                   ggml_type_name(t.type));
    uint64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= static_cast<uint64_t>(t.ne[d]);
    sizes.push_back(*row * rows);
    h.str(t.name);
    h.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) h.put<uint64_t>(static_cast<uint64_t>(d));
    h.put<uint32_t>(static_cast<uint32_t>(t.type));
    h.put<uint64_t>(offset);
    offset += (sizes.back() + alignment - 1) / alignment * alignment;
  }
  h.buf.resize((h.buf.size() + alignment - 1) / alignment * alignment, 0);

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return error("{}: cannot create ({})", tmp, std::strerror(errno));
  auto fail = [&](std::string msg) {
    std::fclose(f);
    std::remove(tmp.c_str());
    return Status::error(std::move(msg));
  };
  if (std::fwrite(h.buf.data(), 1, h.buf.size(), f) != h.buf.size()) return fail(fmt::format("{}: write error", tmp));
  std::vector<uint8_t> data;
  static const uint8_t kZeros[64] = {};
  for (size_t i = 0; i < tensors_.size(); ++i) {
    data.clear();
    Status st = tensors_[i].produce(data);
    if (!st.ok()) return fail(st.message());
    if (data.size() != sizes[i])
      return fail(fmt::format("{}: tensor '{}' produced {} bytes, its shape and type need {}", path, tensors_[i].name,
                              data.size(), sizes[i]));
    if (std::fwrite(data.data(), 1, data.size(), f) != data.size()) return fail(fmt::format("{}: write error", tmp));
    const uint64_t pad = (alignment - sizes[i] % alignment) % alignment;
    for (uint64_t p = pad; p > 0;) {
      const uint64_t n = std::min<uint64_t>(p, sizeof(kZeros));
      if (std::fwrite(kZeros, 1, n, f) != n) return fail(fmt::format("{}: write error", tmp));
      p -= n;
    }
  }
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    return error("{}: write error on close", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return error("{}: cannot rename to {}: {}", tmp, path, ec.message());
  return ok_status();
}

}  // namespace dsv4

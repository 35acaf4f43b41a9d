#include "io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace dsv4 {
namespace {

constexpr uint64_t kMaxName = 64;      // GGML_MAX_NAME: names are stored in char[64] with a NUL
constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
constexpr uint64_t kMaxString = 1ull << 30;

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8: case GgufValueType::kI8: case GgufValueType::kBool: return 1;
    case GgufValueType::kU16: case GgufValueType::kI16: return 2;
    case GgufValueType::kU32: case GgufValueType::kI32: case GgufValueType::kF32: return 4;
    case GgufValueType::kU64: case GgufValueType::kI64: case GgufValueType::kF64: return 8;
    default: return 0;
  }
}

bool known_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kF64); }

// A bounds-checked little-endian cursor; the first failure sticks and later reads return zeros.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> b, std::string_view label) : b_(b), label_(label) {}
  bool ok() const { return err_.empty(); }
  const std::string& err() const { return err_; }
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return b_.size() - pos_; }
  void fail(std::string msg) {
    if (err_.empty()) err_ = std::move(msg);
  }
  template <typename T>
  T read(std::string_view what) {
    T v{};
    if (!ok()) return v;
    if (left() < sizeof(T)) {
      fail(fmt::format("{}: truncated at byte {} reading {}", label_, pos_, what));
      return v;
    }
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    if (!ok()) return {};
    if (n > kMaxString || n > left()) {
      fail(fmt::format("{}: {} has length {} beyond the file (byte {})", label_, what, n, pos_));
      return {};
    }
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> b_;
  std::string_view label_;
  uint64_t pos_ = 0;
  std::string err_;
};

// Reads one scalar of type t into v (integers widened into i / u, floats into f, strings into s).
void read_scalar(Cursor& c, GgufValueType t, GgufValue& v, const std::string& what) {
  switch (t) {
    case GgufValueType::kU8: v.i = c.read<uint8_t>(what); break;
    case GgufValueType::kI8: v.i = c.read<int8_t>(what); break;
    case GgufValueType::kU16: v.i = c.read<uint16_t>(what); break;
    case GgufValueType::kI16: v.i = c.read<int16_t>(what); break;
    case GgufValueType::kU32: v.i = c.read<uint32_t>(what); break;
    case GgufValueType::kI32: v.i = c.read<int32_t>(what); break;
    case GgufValueType::kI64: v.i = c.read<int64_t>(what); break;
    case GgufValueType::kU64: {
      v.u = c.read<uint64_t>(what);
      v.i = v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? -1 : static_cast<int64_t>(v.u);
      return;
    }
    case GgufValueType::kBool: {
      const uint8_t b = c.read<uint8_t>(what);
      if (b > 1) c.fail(fmt::format("{} is a bool of value {} (must be 0 or 1)", what, b));
      v.i = b;
      break;
    }
    case GgufValueType::kF32: v.f = c.read<float>(what); break;
    case GgufValueType::kF64: v.f = c.read<double>(what); break;
    case GgufValueType::kString: v.s = c.read_string(what); break;
    default: c.fail(fmt::format("{} has an unreadable type", what));
  }
  if (v.i >= 0) v.u = static_cast<uint64_t>(v.i);
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  static constexpr std::string_view kNames[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : std::string_view("unknown");
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::kU8: case GgufValueType::kI8: case GgufValueType::kU16: case GgufValueType::kI16:
    case GgufValueType::kU32: case GgufValueType::kI32: case GgufValueType::kU64: case GgufValueType::kI64:
      return true;
    default: return false;
  }
}

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

Result<GgufHeader> parse_gguf_header(std::span<const uint8_t> bytes, uint64_t file_size, std::string_view label) {
  Cursor c(bytes, label);
  GgufHeader h;
  const uint32_t magic = c.read<uint32_t>("the magic");
  if (!c.ok()) return Status::error(c.err());
  if (magic != 0x46554747u)  // "GGUF"
    return error("{}: not a GGUF file (magic {:08x}, expected 'GGUF')", label, magic);
  h.version = c.read<uint32_t>("the version");
  if (c.ok() && (h.version < 2 || h.version > 3))
    return error("{}: GGUF version {} is not supported (2 and 3 are)", label, h.version);
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_kv = c.read<uint64_t>("the key-value count");
  if (!c.ok()) return Status::error(c.err());
  // Each key-value takes at least 13 bytes and each tensor info at least 28: counts beyond what
  // the file could hold are corrupt (and must not drive allocations).
  if (n_kv > c.left() / 13) return error("{}: key-value count {} exceeds what the file can hold", label, n_kv);
  if (n_tensors > c.left() / 28) return error("{}: tensor count {} exceeds what the file can hold", label, n_tensors);

  for (uint64_t k = 0; k < n_kv && c.ok(); ++k) {
    std::string key = c.read_string(fmt::format("key #{}", k));
    if (!c.ok()) break;
    if (key.empty()) return error("{}: key #{} is empty", label, k);
    if (h.kv.count(key)) return error("{}: duplicate key '{}'", label, key);
    const std::string what = fmt::format("{}: key '{}'", label, key);
    const uint32_t t = c.read<uint32_t>(what);
    if (!c.ok()) break;
    if (!known_value_type(t)) return error("{} has unknown value type {}", what, t);
    GgufValue v;
    v.type = static_cast<GgufValueType>(t);
    if (v.type == GgufValueType::kArray) {
      const uint32_t et = c.read<uint32_t>(what);
      const uint64_t n = c.read<uint64_t>(what);
      if (!c.ok()) break;
      if (!known_value_type(et)) return error("{} is an array of unknown type {}", what, et);
      v.elem = static_cast<GgufValueType>(et);
      if (v.elem == GgufValueType::kArray) return error("{} is an array of arrays (not supported by GGUF readers)", what);
      const uint64_t min_elem = v.elem == GgufValueType::kString ? 8 : scalar_size(v.elem);
      if (n > c.left() / min_elem) return error("{} has {} elements beyond the end of the file", what, n);
      const bool is_f = v.elem == GgufValueType::kF32 || v.elem == GgufValueType::kF64;
      if (v.elem == GgufValueType::kString) v.strings.reserve(n);
      else if (is_f) v.floats.reserve(n);
      else v.ints.reserve(n);
      for (uint64_t j = 0; j < n && c.ok(); ++j) {
        GgufValue e;
        read_scalar(c, v.elem, e, what);
        if (v.elem == GgufValueType::kString) v.strings.push_back(std::move(e.s));
        else if (is_f) v.floats.push_back(e.f);
        else if (v.elem == GgufValueType::kU64 && e.i < 0)
          c.fail(fmt::format("{} element {} is {} (above the largest i64)", what, j, e.u));
        else v.ints.push_back(e.i);
      }
    } else {
      read_scalar(c, v.type, v, what);
    }
    if (!c.ok()) break;
    h.key_order.push_back(key);
    h.kv.emplace(std::move(key), std::move(v));
  }
  if (!c.ok()) return Status::error(c.err());

  if (auto a = h.kv.find("general.alignment"); a != h.kv.end()) {
    if (a->second.type != GgufValueType::kU32)
      return error("{}: general.alignment has type {} (must be u32)", label, gguf_value_type_name(a->second.type));
    const uint64_t al = a->second.u;
    if (al == 0 || (al & (al - 1))) return error("{}: general.alignment {} is not a power of two", label, al);
    h.alignment = al;
  }

  std::map<std::string, size_t, std::less<>> names;
  h.tensors.reserve(n_tensors);
  for (uint64_t ti = 0; ti < n_tensors; ++ti) {
    GgufTensor t;
    t.name = c.read_string(fmt::format("tensor #{} name", ti));
    if (!c.ok()) return Status::error(c.err());
    const std::string what = fmt::format("{}: tensor '{}'", label, t.name);
    if (t.name.empty()) return error("{}: tensor #{} has an empty name", label, ti);
    if (t.name.size() >= kMaxName) return error("{} has a name of {} bytes (ggml allows {})", what, t.name.size(), kMaxName - 1);
    if (!names.emplace(t.name, ti).second) return error("{}: duplicate tensor name '{}'", label, t.name);
    const uint32_t nd = c.read<uint32_t>(what);
    if (!c.ok()) return Status::error(c.err());
    if (nd < 1 || nd > kMaxDims) return error("{} has {} dimensions (1 to {} allowed)", what, nd, kMaxDims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t v = c.read<uint64_t>(what);
      if (!c.ok()) return Status::error(c.err());
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (v && numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / v))
        return error("{} has a shape whose element count overflows", what);
      numel *= v;
      t.ne.push_back(static_cast<int64_t>(v));
    }
    const uint32_t type = c.read<uint32_t>(what);
    t.offset = c.read<uint64_t>(what);
    if (!c.ok()) return Status::error(c.err());
    auto info = ggml_type_info(type);
    if (!info) return error("{} has unknown ggml type {}", what, type);
    t.type = static_cast<GgmlType>(type);
    auto row = ggml_row_bytes(t.type, t.ne[0]);
    if (!row)
      return error("{} ({}) has ne[0] = {}, not a multiple of the type's block of {}", what, info->name, t.ne[0],
                   info->block_elems);
    const uint64_t rows = t.ne[0] ? numel / static_cast<uint64_t>(t.ne[0]) : 0;
    if (rows && *row > std::numeric_limits<uint64_t>::max() / rows) return error("{} has a byte size that overflows", what);
    t.nbytes = *row * rows;
    if (t.offset % h.alignment) return error("{} has offset {} not a multiple of the alignment {}", what, t.offset, h.alignment);
    h.tensors.push_back(std::move(t));
  }

  const uint64_t header_end = c.pos();
  h.data_offset = (header_end + h.alignment - 1) / h.alignment * h.alignment;
  if (h.data_offset > file_size) return error("{}: the header ends past the end of the file", label);
  const uint64_t data_size = file_size - h.data_offset;
  std::vector<const GgufTensor*> by_off;
  for (const GgufTensor& t : h.tensors) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      return error("{}: tensor '{}' ({} bytes at data offset {}) extends past the end of the file ({} data bytes)",
                   label, t.name, t.nbytes, t.offset, data_size);
    by_off.push_back(&t);
  }
  std::sort(by_off.begin(), by_off.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_off.size(); ++i)
    if (by_off[i - 1]->offset + by_off[i - 1]->nbytes > by_off[i]->offset)
      return error("{}: tensors '{}' and '{}' overlap", label, by_off[i - 1]->name, by_off[i]->name);
  return h;
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto f = std::unique_ptr<GgufFile>(new GgufFile());
  DSV4_ASSIGN_OR_RETURN(f->file_, MappedFile::open(path));
  DSV4_ASSIGN_OR_RETURN(f->header_, parse_gguf_header({f->file_->data(), f->file_->size()}, f->file_->size(), path));
  for (size_t i = 0; i < f->header_.tensors.size(); ++i) {
    GgufTensor& t = f->header_.tensors[i];
    t.data = f->file_->data() + f->header_.data_offset + t.offset;
    f->index_.emplace(t.name, i);
  }
  return f;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = header_.kv.find(key);
  return it == header_.kv.end() ? nullptr : &it->second;
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return error("{}: missing key '{}'", path(), key);
  if (v->type != GgufValueType::kString)
    return error("{}: key '{}' has type {} (expected string)", path(), key, gguf_value_type_name(v->type));
  return v->s;
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return error("{}: missing key '{}'", path(), key);
  if (!v->is_integer())
    return error("{}: key '{}' has type {} (expected an integer)", path(), key, gguf_value_type_name(v->type));
  if (v->i < 0 && v->type == GgufValueType::kU64) return error("{}: key '{}' is {} (too large)", path(), key, v->u);
  return v->i;
}

Result<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return error("{}: missing key '{}'", path(), key);
  if (v->is_float()) return v->f;
  if (v->is_integer()) return static_cast<double>(v->i);
  return error("{}: key '{}' has type {} (expected a number)", path(), key, gguf_value_type_name(v->type));
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return error("{}: missing key '{}'", path(), key);
  if (v->type != GgufValueType::kBool)
    return error("{}: key '{}' has type {} (expected bool)", path(), key, gguf_value_type_name(v->type));
  return v->i != 0;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return error("{}: missing key '{}'", path(), key);
  if (v->type != GgufValueType::kArray || v->elem == GgufValueType::kString || v->elem == GgufValueType::kF32 ||
      v->elem == GgufValueType::kF64)
    return error("{}: key '{}' is not an integer array", path(), key);
  return v->ints;
}

}  // namespace dsv4

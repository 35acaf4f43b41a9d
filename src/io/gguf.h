// GGUF reader (the file format of ggml / llama.cpp, version 2 and 3): magic "GGUF", u32 version,
// u64 tensor count, u64 key-value count, the key-values (u64-length strings, u32 value types,
// arrays of one scalar or string type), the tensor infos (name, u32 n_dims, u64 ne[n_dims],
// u32 ggml type, u64 offset), padding to general.alignment (default 32), then the tensor data.
// All integers are little-endian. The file is mmap'd and tensors are zero-copy views.
//
// Validation is as strict as the safetensors loader's and covers every rule ggml's own reader
// (gguf.cpp) enforces: known value and tensor types, no nested arrays, unique keys and tensor
// names, names shorter than 64 bytes, 1..4 dimensions with a first one that is a whole number of
// blocks, no size overflow, offsets aligned and inside the file, tensors not overlapping, and a
// general.alignment that is a u32 power of two. Every error names the file and the key or tensor.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/mapped_file.h"
#include "tensor/ggml_type.h"

namespace dsv4 {

enum class GgufValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType t);

// One metadata value. Integers (and bools) are held widened in `i` (u64 values above INT64_MAX
// in `u` only), floats in `f`; arrays keep their element type and widened elements.
struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  GgufValueType elem = GgufValueType::kU8;  // arrays only
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;        // integer / bool arrays
  std::vector<double> floats;       // f32 / f64 arrays
  std::vector<std::string> strings; // string arrays

  bool is_integer() const;  // any integer scalar type (not bool)
  bool is_float() const { return type == GgufValueType::kF32 || type == GgufValueType::kF64; }
  size_t array_size() const { return ints.size() + floats.size() + strings.size(); }
};

struct GgufTensor {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (innermost) dimension
  uint64_t offset = 0;      // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;
  int64_t numel() const;
  // The same shape the way safetensors / PyTorch write it (outermost first).
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

struct GgufHeader {
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // where the data section starts in the file
  std::vector<std::string> key_order;  // keys in file order
  std::map<std::string, GgufValue, std::less<>> kv;
  std::vector<GgufTensor> tensors;     // in file order (data pointers unset)
};

// Parses and validates the header given the file's bytes (`bytes` may be a prefix that holds the
// whole header; `file_size` is the real size, against which tensor extents are checked).
Result<GgufHeader> parse_gguf_header(std::span<const uint8_t> bytes, uint64_t file_size, std::string_view label);

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  const std::string& path() const { return file_->path(); }
  const GgufHeader& header() const { return header_; }
  const std::vector<GgufTensor>& tensors() const { return header_.tensors; }
  const GgufTensor* find_tensor(std::string_view name) const;
  const GgufValue* find(std::string_view key) const;

  // Typed metadata access; errors name the file and the key (missing, or of another type).
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;     // any integer type
  Result<double> get_float(std::string_view key) const;    // f32 / f64 (or an integer)
  Result<bool> get_bool(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;

 private:
  std::unique_ptr<MappedFile> file_;
  GgufHeader header_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace dsv4

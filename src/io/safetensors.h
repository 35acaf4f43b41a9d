// Safetensors reader: 8-byte little-endian header length, a JSON header
// {"__metadata__": {...}, "name": {"dtype": "...", "shape": [...], "data_offsets": [b, e]}, ...},
// then the tensor bytes. Files are mmap'd; tensors are zero-copy views into the mapping.
// Every structural problem is an error naming the file and the tensor.
// Validation follows the format's rules as the reference (Rust) reader enforces them: header at most
// 100 MB starting with '{', no duplicate keys, known dtypes, byte size == numel x dtype size, and
// tensors tiling the data section exactly (no overlap, no hole, no trailing bytes). One rule is ours:
// every tensor's data must sit at a file offset that is a multiple of its element size, so typed
// views can read the mapping in place (both official writers pad the header to 8 bytes for this).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "base/status.h"
#include "io/mapped_file.h"
#include "tensor/dtype.h"
#include "tensor/ggml_type.h"

namespace dsv4 {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the start of the data section
  uint64_t end = 0;
  const uint8_t* data = nullptr;  // set once the file is mapped
  const std::string* file = nullptr;
  // Set for a weight kept in a ggml block format (a GGUF file's Q8_0, Q4_K, ...: io/gguf_checkpoint.h):
  // dtype is then U8, `shape` the logical [rows, cols] and each row ggml_row_bytes(type, cols) bytes.
  std::optional<GgmlType> ggml;

  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(end - begin); }
  std::string shape_string() const;  // "[a, b]"
  // Zero-copy typed view; T has the dtype's element size (e.g. uint16_t or bf16 for BF16) or is a
  // byte type for raw access. Alignment is guaranteed by the header validation.
  template <typename T>
  std::span<const T> as() const {
    DSV4_DCHECK(sizeof(T) == 1 || sizeof(T) == dtype_size(dtype));
    DSV4_DCHECK(reinterpret_cast<uintptr_t>(data) % alignof(T) == 0);
    return {reinterpret_cast<const T*>(data), nbytes() / sizeof(T)};
  }
};

struct SafetensorsHeader {
  std::map<std::string, std::string> metadata;
  std::vector<TensorInfo> tensors;  // in header order
  uint64_t data_offset = 0;         // 8 + header length
};

// Parses and validates a header given the whole file's bytes (or a prefix holding at least the
// header: file_size is the real size). Performs every check listed at the top of this file;
// errors start with `file_label` and name the tensor involved.
Result<SafetensorsHeader> parse_safetensors_header(std::span<const uint8_t> bytes, uint64_t file_size,
                                                   std::string_view file_label);

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  const std::string& path() const { return file_->path(); }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const TensorInfo* find(std::string_view name) const;

 private:
  std::unique_ptr<MappedFile> file_;
  SafetensorsHeader header_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace dsv4

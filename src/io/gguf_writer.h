// GGUF writer (version 3, alignment 32 unless general.alignment says otherwise). Metadata is kept
// in insertion order; tensor data is produced one tensor at a time by a callback at write time,
// so converting a large checkpoint never holds more than one tensor in memory. The file is
// written to PATH.tmp and renamed into place only once complete.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"

namespace dsv4 {

class GgufWriter {
 public:
  // Fills `out` with exactly the tensor's byte size (checked).
  using Producer = std::function<Status(std::vector<uint8_t>& out)>;

  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, std::string v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_u32_array(const std::string& key, const std::vector<uint32_t>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_string_array(const std::string& key, std::vector<std::string> v);

  // `ne` in ggml order (innermost first). Errors (bad shape for the type, duplicate or too long
  // name) are reported by write().
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, Producer produce);
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> bytes);

  Status write(const std::string& path) const;
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Kv {
    std::string key;
    GgufValue value;
  };
  struct Pending {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    Producer produce;
  };
  void set(const std::string& key, GgufValue v);
  std::vector<Kv> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace dsv4

// Reader of the fixture tests/llamacpp/ggml_ref.c writes: rows quantized by llama.cpp's own ggml
// (ggml_quantize_chunk) with ggml's dequantize_row_* output beside them, for the parity tests of
// the reference decoders (tensor) and of linear_ggml (kernels). Test-only, header-only.
//
// Format (little endian): "DSV4GGRF", u32 version = 1, u32 record count; per record u32 ggml type,
// u32 rows, u32 cols, u32 row bytes, then rows * row_bytes raw block bytes, then rows * cols f32.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/ggml_type.h"

namespace dsv4::ggml_ref {

struct Record {
  GgmlType type = GgmlType::kF32;
  int64_t rows = 0, cols = 0, row_bytes = 0;
  std::vector<uint8_t> raw;
  std::vector<float> values;  // ggml's dequantize_row_* output
};

// The records of `path`; empty with `error` set when the file is missing or malformed.
inline std::vector<Record> read_fixture(const std::string& path, std::string* error) {
  std::vector<Record> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *error = "cannot open " + path;
    return {};
  }
  auto rd = [&](void* p, size_t n) { return std::fread(p, 1, n, f) == n; };
  char magic[8];
  uint32_t hdr[2];
  bool ok = rd(magic, 8) && std::memcmp(magic, "DSV4GGRF", 8) == 0 && rd(hdr, 8) && hdr[0] == 1;
  for (uint32_t i = 0; ok && i < hdr[1]; ++i) {
    uint32_t h[4];
    ok = rd(h, 16) && h[1] > 0 && h[1] <= (1u << 16) && h[2] <= (1u << 20) && h[3] <= (1u << 24);
    if (!ok) break;
    Record r;
    r.type = static_cast<GgmlType>(h[0]);
    r.rows = h[1];
    r.cols = h[2];
    r.row_bytes = h[3];
    r.raw.resize(static_cast<size_t>(r.rows * r.row_bytes));
    r.values.resize(static_cast<size_t>(r.rows * r.cols));
    ok = rd(r.raw.data(), r.raw.size()) && rd(r.values.data(), r.values.size() * 4);
    if (ok) out.push_back(std::move(r));
  }
  std::fclose(f);
  if (!ok) {
    *error = "malformed fixture " + path;
    return {};
  }
  return out;
}

}  // namespace dsv4::ggml_ref

// ggml's tensor element types as GGUF files number them (ggml.h / gguf-py constants.py), with
// their block geometry: a row of ne0 elements is ne0 / block_elems blocks of block_bytes each.
// Only the geometry lives here; which types the engine can compute with is the loader's business.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace dsv4 {

enum class GgmlType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21, kIQ2_S = 22,
  kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kIQ1_M = 29, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39, kNVFP4 = 40, kQ1_0 = 41, kQ2_0 = 42,
};

struct GgmlTypeInfo {
  std::string_view name;  // ggml's spelling: "q8_0", "bf16", "mxfp4", ...
  int64_t block_elems = 0;
  int64_t block_bytes = 0;
};

// nullopt for numbers ggml does not define (3, 4, 5, 31..33, > 42).
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type);
inline GgmlTypeInfo ggml_info(GgmlType t) { return *ggml_type_info(static_cast<uint32_t>(t)); }
std::string_view ggml_type_name(GgmlType t);
std::optional<GgmlType> ggml_type_from_name(std::string_view name);  // "q8_0", "BF16", ... (any case)

// Bytes of a row of `ne0` elements; nullopt when ne0 is not a whole number of blocks.
std::optional<uint64_t> ggml_row_bytes(GgmlType t, int64_t ne0);

}  // namespace dsv4

#include "tensor/ggml_type.h"

#include <array>
#include <cctype>

namespace dsv4 {
namespace {

constexpr int64_t kQK_K = 256;

struct Entry {
  uint32_t id;
  GgmlTypeInfo info;
};

// Geometry from gguf-py's GGML_QUANT_SIZES (the table llama.cpp's writers use).
constexpr std::array<Entry, 35> kTypes{{
    {0, {"f32", 1, 4}},
    {1, {"f16", 1, 2}},
    {2, {"q4_0", 32, 2 + 16}},
    {3, {"q4_1", 32, 2 + 2 + 16}},
    {6, {"q5_0", 32, 2 + 4 + 16}},
    {7, {"q5_1", 32, 2 + 2 + 4 + 16}},
    {8, {"q8_0", 32, 2 + 32}},
    {9, {"q8_1", 32, 4 + 4 + 32}},
    {10, {"q2_K", kQK_K, 2 + 2 + kQK_K / 16 + kQK_K / 4}},
    {11, {"q3_K", kQK_K, 2 + kQK_K / 4 + kQK_K / 8 + 12}},
    {12, {"q4_K", kQK_K, 2 + 2 + kQK_K / 2 + 12}},
    {13, {"q5_K", kQK_K, 2 + 2 + kQK_K / 2 + kQK_K / 8 + 12}},
    {14, {"q6_K", kQK_K, 2 + kQK_K / 2 + kQK_K / 4 + kQK_K / 16}},
    {15, {"q8_K", kQK_K, 4 + kQK_K + kQK_K / 8}},
    {16, {"iq2_xxs", kQK_K, 2 + kQK_K / 4}},
    {17, {"iq2_xs", kQK_K, 2 + kQK_K / 4 + kQK_K / 32}},
    {18, {"iq3_xxs", kQK_K, 2 + kQK_K / 4 + kQK_K / 8}},
    {19, {"iq1_s", kQK_K, 2 + kQK_K / 8 + kQK_K / 16}},
    {20, {"iq4_nl", 32, 2 + 16}},
    {21, {"iq3_s", kQK_K, 2 + kQK_K / 4 + kQK_K / 8 + kQK_K / 32 + 4}},
    {22, {"iq2_s", kQK_K, 2 + kQK_K / 4 + kQK_K / 16}},
    {23, {"iq4_xs", kQK_K, 2 + 2 + kQK_K / 2 + kQK_K / 64}},
    {24, {"i8", 1, 1}},
    {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},
    {27, {"i64", 1, 8}},
    {28, {"f64", 1, 8}},
    {29, {"iq1_m", kQK_K, kQK_K / 8 + kQK_K / 16 + kQK_K / 32}},
    {30, {"bf16", 1, 2}},
    {34, {"tq1_0", kQK_K, 2 + 4 * 13}},
    {35, {"tq2_0", kQK_K, 2 + 64}},
    {39, {"mxfp4", 32, 1 + 16}},
    {40, {"nvfp4", 64, 4 + 32}},
    {41, {"q1_0", 128, 2 + 16}},
    {42, {"q2_0", 64, 2 + 16}},
}};

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

}  // namespace

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type) {
  for (const Entry& e : kTypes)
    if (e.id == type) return e.info;
  return std::nullopt;
}

std::string_view ggml_type_name(GgmlType t) {
  auto i = ggml_type_info(static_cast<uint32_t>(t));
  return i ? i->name : std::string_view("unknown");
}

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (const Entry& e : kTypes)
    if (iequal(e.info.name, name)) return static_cast<GgmlType>(e.id);
  return std::nullopt;
}

std::optional<uint64_t> ggml_row_bytes(GgmlType t, int64_t ne0) {
  auto i = ggml_type_info(static_cast<uint32_t>(t));
  if (!i || ne0 < 0 || ne0 % i->block_elems) return std::nullopt;
  return static_cast<uint64_t>(ne0 / i->block_elems) * static_cast<uint64_t>(i->block_bytes);
}

}  // namespace dsv4

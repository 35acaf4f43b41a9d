// Element types of safetensors checkpoints.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace dsv4 {

enum class DType { kF8E4M3, kF8E8M0, kI8, kU8, kBF16, kF16, kF32, kF64, kI32, kI64, kBool };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);                        // safetensors spelling, e.g. "F8_E4M3"
std::optional<DType> dtype_from_name(std::string_view name);  // nullopt for unknown strings

}  // namespace dsv4

#include "cache/prefix_index.h"

namespace dsv4::cache {
namespace {

constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;  // odd: multiplication mod 2^64 is invertible

uint64_t step(uint64_t h, int32_t t) {
  // Mixing the token first keeps nearby ids from cancelling.
  uint64_t x = static_cast<uint32_t>(t) * 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return h * kMul + x + 1;
}

}  // namespace

PrefixHashes::PrefixHashes(std::span<const int32_t> tokens) {
  h_.resize(tokens.size() + 1);
  h_[0] = 0;
  for (size_t i = 0; i < tokens.size(); ++i) h_[i + 1] = step(h_[i], tokens[i]);
}

uint64_t PrefixHashes::of(std::span<const int32_t> tokens) {
  uint64_t h = 0;
  for (int32_t t : tokens) h = step(h, t);
  return h;
}

}  // namespace dsv4::cache

// Longest-prefix lookup over token sequences: which stored sequence is the longest prefix of a
// prompt. Each entry keeps a polynomial hash of its tokens; a lookup hashes every prefix of the
// prompt once (O(prompt)) and compares each entry's hash at its own length, then verifies the
// tokens of a candidate exactly (a hash collision can never give a wrong hit).
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace dsv4::cache {

class PrefixHashes {
 public:
  explicit PrefixHashes(std::span<const int32_t> tokens);
  // Hash of tokens[0, n), n <= size().
  uint64_t at(size_t n) const { return h_[n]; }
  size_t size() const { return h_.size() - 1; }

  static uint64_t of(std::span<const int32_t> tokens);

 private:
  std::vector<uint64_t> h_;
};

inline bool is_prefix(std::span<const int32_t> a, std::span<const int32_t> of) {
  return a.size() <= of.size() && std::equal(a.begin(), a.end(), of.begin());
}

}  // namespace dsv4::cache

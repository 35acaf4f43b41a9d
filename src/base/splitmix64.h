// splitmix64: a small counter-based generator, the same stream on every platform (what the random
// checkpoints of make-model and the trainer's initialization draw from).
#pragma once
#include <cmath>
#include <cstdint>

namespace dsv4 {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // splitmix64 is a counter: skipping n outputs is one multiply, which lets threads draw disjoint
  // ranges of one tensor's stream and still produce exactly the sequential values.
  void skip(uint64_t n) { s_ += n * 0x9e3779b97f4a7c15ull; }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t s_;
};


}  // namespace dsv4

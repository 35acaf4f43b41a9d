// Helpers shared by the numeric unit tests (header only, used from *_test.cc files): random
// bf16-representable inputs and the size of one bf16 step at a value.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "tensor/bf16.h"

namespace dsv4::test_values {

inline float to_bf16(double v) { return round_bf16(static_cast<float>(v)); }

// One unit in the last place of bf16 at |v| (8 significant bits); tiny for 0.
inline double bf16_ulp(double v) {
  if (v == 0.0) return std::ldexp(1.0, -133);
  int e = 0;
  std::frexp(v, &e);
  return std::ldexp(1.0, e - 8);
}

// n normal(0, sigma) samples rounded to bf16, deterministic for a seed.
inline std::vector<float> random_bf16_values(int64_t n, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = round_bf16(dist(rng));
  return v;
}

}  // namespace dsv4::test_values

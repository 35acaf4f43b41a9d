// Test helpers shared by the linear kernel tests: random FP8/FP4 weights and the CPU variants
// this machine can run.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/linear.h"
#include "kernels/linear_variants.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"

namespace dsv4::kernels {

// Every variant up to this CPU's tier (after DSV4_FORCE_CPU); the ones above it are reported as
// skipped once, so a CI machine without AVX-512 still runs the rest.
inline std::vector<const LinearVariant*> test_variants() {
  std::vector<const LinearVariant*> v;
  static bool reported = false;
  for (CpuTier t : {CpuTier::kScalar, CpuTier::kAvx2, CpuTier::kAvx512}) {
    if (const LinearVariant* lv = linear_variant(t)) {
      v.push_back(lv);
    } else if (!reported) {
      std::printf("[ note ] linear variant %s not available on this CPU: its tests are skipped\n", cpu_tier_name(t));
    }
  }
  reported = true;
  return v;
}

// Random e4m3 codes without the two NaN codes (0x7f, 0xff).
inline std::vector<uint8_t> random_fp8_codes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& c : v) {
    int x;
    do x = dist(rng);
    while ((x & 0x7f) == 0x7f);
    c = static_cast<uint8_t>(x);
  }
  return v;
}

// UE8M0 exponents around 2^0 (2^-6 .. 2^3).
inline std::vector<uint8_t> random_scales(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(121, 130);
  std::vector<uint8_t> v(n);
  for (auto& e : v) e = static_cast<uint8_t>(dist(rng));
  return v;
}

inline double ue8m0(uint8_t e) { return std::ldexp(1.0, static_cast<int>(e) - 127); }

struct Fp8Weight {
  std::vector<uint8_t> codes, scales;
  Fp8Matrix m;
  Fp8Weight(int64_t n, int64_t k, uint32_t seed)
      : codes(random_fp8_codes(n * k, seed)), scales(random_scales(((n + 127) / 128) * ((k + 127) / 128), seed + 1)) {
    m = {codes.data(), scales.data(), n, k};
  }
  double at(int64_t j, int64_t i) const {
    const int64_t kb = (m.cols + 127) / 128;
    return static_cast<double>(fp8_e4m3_to_f32(codes[j * m.cols + i])) * ue8m0(scales[(j / 128) * kb + i / 128]);
  }
};

struct Fp4Weight {
  std::vector<uint8_t> packed, scales;
  Fp4Matrix m;
  Fp4Weight(int64_t n, int64_t k, uint32_t seed) : packed(n * k / 2), scales(random_scales(n * k / 32, seed + 1)) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> nib(0, 15);
    for (auto& b : packed) b = fp4_pack(static_cast<uint8_t>(nib(rng)), static_cast<uint8_t>(nib(rng)));
    m = {packed.data(), scales.data(), n, k};
  }
  double at(int64_t j, int64_t i) const {
    const uint8_t byte = packed[(j * m.cols + i) / 2];
    const uint8_t code = (i % 2 == 0) ? (byte & 0xf) : (byte >> 4);
    return static_cast<double>(fp4_e2m1_to_f32(code)) * ue8m0(scales[j * (m.cols / 32) + i / 32]);
  }
};

}  // namespace dsv4::kernels

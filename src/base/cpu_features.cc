#include "base/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace dsv4 {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    f.fma = c & bit_FMA;
    f.f16c = c & bit_F16C;
    bool osxsave = c & bit_OSXSAVE;
    unsigned long long xcr0 = 0;
    if (osxsave) {
      unsigned lo, hi;
      __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
    }
    bool ymm_ok = (xcr0 & 0x6) == 0x6;
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
      f.avx2 = ymm_ok && (b & bit_AVX2);
      f.avx512f = zmm_ok && (b & bit_AVX512F);
      f.avx512bw = zmm_ok && (b & bit_AVX512BW);
      f.avx512vl = zmm_ok && (b & bit_AVX512VL);
      f.avx512vnni = zmm_ok && (c & bit_AVX512VNNI);
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = zmm_ok && (a & (1u << 5));
  }
#endif
  if (f.avx512f && f.avx512bw && f.avx512vl && f.fma) {
    f.tier = CpuTier::kAvx512;
  } else if (f.avx2 && f.fma && f.f16c) {
    f.tier = CpuTier::kAvx2;
  }
  if (const char* force = std::getenv("DSV4_FORCE_CPU")) {
    CpuTier cap = f.tier;
    if (!std::strcmp(force, "scalar")) cap = CpuTier::kScalar;
    else if (!std::strcmp(force, "avx2")) cap = CpuTier::kAvx2;
    else if (!std::strcmp(force, "avx512")) cap = CpuTier::kAvx512;
    if (static_cast<int>(cap) < static_cast<int>(f.tier)) f.tier = cap;
  }
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* cpu_tier_name(CpuTier t) {
  switch (t) {
    case CpuTier::kAvx512: return "avx512";
    case CpuTier::kAvx2: return "avx2";
    default: return "scalar";
  }
}

std::string cpu_features_string(const CpuFeatures& f) {
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (on) { if (!s.empty()) s += ' '; s += n; }
  };
  add(f.avx2, "avx2"); add(f.fma, "fma"); add(f.f16c, "f16c"); add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw"); add(f.avx512vl, "avx512vl"); add(f.avx512bf16, "avx512bf16");
  add(f.avx512vnni, "avx512vnni");
  return s.empty() ? "none" : s;
}

}  // namespace dsv4

// Runtime CPU feature detection. The build never assumes an ISA (no -march=native by default);
// kernels pick their variant from these flags once, at start-up.
// DSV4_FORCE_CPU=scalar|avx2|avx512 caps the tier so every variant can be tested on one host.
#pragma once
#include <string>

namespace dsv4 {

enum class CpuTier { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512bf16 = false;
  bool avx512vnni = false;
  CpuTier tier = CpuTier::kScalar;  // best usable tier after DSV4_FORCE_CPU is applied
};

// Detected once (thread-safe static) and cached.
const CpuFeatures& cpu_features();
std::string cpu_features_string(const CpuFeatures& f);
const char* cpu_tier_name(CpuTier t);

}  // namespace dsv4

// Choosing a kernel family's CPU variant (kernels/linear.cc, kernels/linear_ggml.cc): the variant
// of a tier when this CPU can run it (DSV4_FORCE_CPU may cap the tier lower), and the one the
// public entry points use, chosen once: the best the CPU allows, the scalar reference otherwise.
#pragma once
#include "base/cpu_features.h"

namespace dsv4::kernels {

// `avx2` / `avx512` may be null where the build has no such variant (non-x86 builds).
template <class Variant>
const Variant* variant_for_tier(CpuTier tier, const Variant* scalar, const Variant* avx2, const Variant* avx512) {
  if (static_cast<int>(tier) > static_cast<int>(cpu_features().tier)) return nullptr;
  switch (tier) {
    case CpuTier::kAvx512: return avx512;
    case CpuTier::kAvx2: return avx2;
    case CpuTier::kScalar: return scalar;
    default: return nullptr;
  }
}

template <class Variant>
const Variant& best_variant(const Variant* scalar, const Variant* avx2, const Variant* avx512) {
  const Variant* v = variant_for_tier(cpu_features().tier, scalar, avx2, avx512);
  return v ? *v : *scalar;
}

}  // namespace dsv4::kernels

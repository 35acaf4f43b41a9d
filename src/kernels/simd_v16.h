// The 16-lane fp32 vector cores every SIMD kernel family builds on (linear_simd_impl.h,
// linear_ggml_simd_impl.h): AVX2 as two __m256 (lanes 0-7, 8-15), AVX-512 as one __m512. Each
// family's vector type derives from the core of its ISA and adds its decoders and tile sizes.
// Include only from a file compiled with that ISA's flags (the cores are defined per the
// compiler's target macros); everything is in an anonymous namespace, one copy per ISA file.
//
// reduce() is the canonical lane tree shared by every tier: l + (l+8), then + (l+4), + (l+2),
// + (l+1), so AVX2 and AVX-512 results agree bitwise.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

namespace dsv4::kernels {
namespace {

#if defined(__AVX2__) && defined(__FMA__)
struct V16Avx2Core {
  struct T {
    __m256 lo, hi;
  };
  [[gnu::always_inline]] static T zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  [[gnu::always_inline]] static T load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  [[gnu::always_inline]] static void store(float* p, T v) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
  }
  [[gnu::always_inline]] static T bcast(float s) {
    const __m256 v = _mm256_set1_ps(s);
    return {v, v};
  }
  [[gnu::always_inline]] static T mul(T a, T b) { return {_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)}; }
  [[gnu::always_inline]] static T sub(T a, T b) { return {_mm256_sub_ps(a.lo, b.lo), _mm256_sub_ps(a.hi, b.hi)}; }
  [[gnu::always_inline]] static T fma(T a, T b, T c) {
    return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
  }
  [[gnu::always_inline]] static float reduce(T v) {
    const __m256 s8 = _mm256_add_ps(v.lo, v.hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
};
#endif

#if defined(__AVX512F__)
struct V16Avx512Core {
  using T = __m512;
  [[gnu::always_inline]] static T zero() { return _mm512_setzero_ps(); }
  [[gnu::always_inline]] static T load(const float* p) { return _mm512_loadu_ps(p); }
  [[gnu::always_inline]] static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  [[gnu::always_inline]] static T bcast(float s) { return _mm512_set1_ps(s); }
  [[gnu::always_inline]] static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  [[gnu::always_inline]] static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  [[gnu::always_inline]] static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  [[gnu::always_inline]] static float reduce(T v) {
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 s8 = _mm256_add_ps(lo, hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
};
#endif

}  // namespace
}  // namespace dsv4::kernels
#endif  // __x86_64__

// AVX2 + FMA + F16C tier of the linears (compiled with -mavx2 -mfma -mf16c; called only when
// cpu_features() reports them). A 16-lane vector is two __m256: lanes 0-7 and 8-15.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/linear_simd.h"

namespace dsv4::kernels {
namespace {

struct V16Avx2 {
  struct T {
    __m256 lo, hi;
  };
  static constexpr int kColTile = 2;  // 16 ymm registers: GEMV 2 columns x (acc + partial),
  static constexpr int kRowTile = 4;     // GEMM: 4 rows x acc + the weight vectors
  static constexpr int kFp8RowTile = 2;  // FP8 GEMM keeps a block partial per row as well

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
  [[gnu::always_inline]] static T fma(T a, T b, T c) {
    return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
  }

  // The canonical tree: l + (l+8), then + (l+4), + (l+2), + (l+1).
  [[gnu::always_inline]] static float reduce(T v) {
    const __m256 s8 = _mm256_add_ps(v.lo, v.hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }

  // e4m3 s|eeee|mmm -> fp32 bits s|0000eeee|mmm0...: the value times 2^-120, exact for normals
  // and subnormals alike, so one multiply by 2^120 restores it (no table gather). Sign-extending
  // the byte and shifting by 20 puts the sign in bit 31 and eeeemmm in bits 26..20 at once.
  [[gnu::always_inline]] static __m256 e4m3_8(__m128i bytes8) {
    const __m256i c = _mm256_slli_epi32(_mm256_cvtepi8_epi32(bytes8), 20);
    const __m256i bits = _mm256_and_si256(c, _mm256_set1_epi32(int(0x87f00000u)));
    return _mm256_mul_ps(_mm256_castsi256_ps(bits), _mm256_set1_ps(0x1p120f));
  }
  [[gnu::always_inline]] static T e4m3(const uint8_t* p) {
    return {e4m3_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))),
            e4m3_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)))};
  }

  // e2m1: the 3 magnitude bits index an 8-entry table (permutevar8x32 reads the low 3 bits of
  // each index), the sign bit is xored in. Byte l holds k = 2l (low nibble) and 2l+1 (high).
  [[gnu::always_inline]] static void e2m1_8(__m128i bytes8, __m256& even, __m256& odd) {
    const __m256 grid = _mm256_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f);
    const __m256i sign_bit = _mm256_set1_epi32(int(0x80000000u));
    const __m256i c = _mm256_cvtepu8_epi32(bytes8);
    const __m256i hi = _mm256_srli_epi32(c, 4);
    even = _mm256_xor_ps(_mm256_permutevar8x32_ps(grid, c),
                         _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(c, 28), sign_bit)));
    odd = _mm256_xor_ps(_mm256_permutevar8x32_ps(grid, hi),
                        _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(hi, 28), sign_bit)));
  }
  [[gnu::always_inline]] static void e2m1(const uint8_t* p, T& even, T& odd) {
    e2m1_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), even.lo, odd.lo);
    e2m1_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)), even.hi, odd.hi);
  }

  [[gnu::always_inline]] static __m256 bf16_8(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  [[gnu::always_inline]] static T bf16(const uint16_t* p) { return {bf16_8(p), bf16_8(p + 8)}; }
};

}  // namespace
}  // namespace dsv4::kernels

#include "kernels/linear_simd_impl.h"

namespace dsv4::kernels {

const SimdKernels& simd_kernels_avx2() {
  static const SimdKernels k = make_simd_kernels<V16Avx2>();
  return k;
}

}  // namespace dsv4::kernels
#endif  // __x86_64__

// AVX-512 tier of linear_ggml (compiled with -mavx512f/bw/vl, called only when cpu_features()
// reports them). A 16-lane vector is one __m512; same kernels and canonical order as the AVX2
// tier (linear_ggml_simd_impl.h), so the two agree bitwise.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/linear_ggml_simd.h"

namespace dsv4::kernels {
namespace {

struct V16Avx512Ggml {
  using T = __m512;
  static constexpr int kGemvCols = 4;  // 32 zmm registers
  static constexpr int kRowTile = 4;   // GEMM: 4 rows x 4 weight rows = 16 accumulators
  static constexpr int kColTile = 4;

  [[gnu::always_inline]] static T zero() { return _mm512_setzero_ps(); }
  [[gnu::always_inline]] static T load(const float* p) { return _mm512_loadu_ps(p); }
  [[gnu::always_inline]] static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  [[gnu::always_inline]] static T bcast(float s) { return _mm512_set1_ps(s); }
  [[gnu::always_inline]] static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  [[gnu::always_inline]] static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  [[gnu::always_inline]] static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  // The canonical tree: l + (l+8), then + (l+4), + (l+2), + (l+1) (as the AVX2 tier).
  [[gnu::always_inline]] static float reduce(T v) {
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 s8 = _mm256_add_ps(lo, hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }

  [[gnu::always_inline]] static __m128i bytes16(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  [[gnu::always_inline]] static T i8(const uint8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes16(p))); }
  [[gnu::always_inline]] static __m512i u8(const uint8_t* p) { return _mm512_cvtepu8_epi32(bytes16(p)); }
  [[gnu::always_inline]] static T nib_lo(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_and_si512(u8(p), _mm512_set1_epi32(15)));
  }
  [[gnu::always_inline]] static T nib_hi(const uint8_t* p) { return _mm512_cvtepi32_ps(_mm512_srli_epi32(u8(p), 4)); }
  // kvalues_mxfp4 (permutexvar reads the low 4 bits of each index); code 8 is +0 as in ggml.
  [[gnu::always_inline]] static T mx(__m512i c) {
    const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    return _mm512_permutexvar_ps(c, table);
  }
  [[gnu::always_inline]] static T mx_lo(const uint8_t* p) { return mx(u8(p)); }
  [[gnu::always_inline]] static T mx_hi(const uint8_t* p) { return mx(_mm512_srli_epi32(u8(p), 4)); }
  [[gnu::always_inline]] static T f16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  [[gnu::always_inline]] static T bf16(const uint8_t* p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  }
  [[gnu::always_inline]] static float f16_scalar(const uint8_t* p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
  }
};

}  // namespace
}  // namespace dsv4::kernels

#include "kernels/linear_ggml_simd_impl.h"

namespace dsv4::kernels {

GgmlColumnsFn ggml_columns_avx512() { return &ggml_columns<V16Avx512Ggml>; }

}  // namespace dsv4::kernels
#endif  // __x86_64__

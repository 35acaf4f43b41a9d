// AVX-512 tier of linear_ggml (compiled with -mavx512f/bw/vl, called only when cpu_features()
// reports them). A 16-lane vector is one __m512; same kernels and canonical order as the AVX2
// tier (linear_ggml_simd_impl.h), so the two agree bitwise.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/linear_ggml_simd.h"
#include "kernels/simd_v16.h"

namespace dsv4::kernels {
namespace {

struct V16Avx512Ggml : V16Avx512Core {
  static constexpr int kGemvCols = 4;  // 32 zmm registers
  static constexpr int kRowTile = 4;   // GEMM: 4 rows x 4 weight rows = 16 accumulators
  static constexpr int kColTile = 4;

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

// AVX2 + FMA + F16C tier of linear_ggml (compiled with -mavx2 -mfma -mf16c; called only when
// cpu_features() reports them). A 16-lane vector is two __m256: lanes 0-7 and 8-15.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/linear_ggml_simd.h"
#include "kernels/simd_v16.h"

namespace dsv4::kernels {
namespace {

struct V16Avx2Ggml : V16Avx2Core {
  static constexpr int kGemvCols = 2;  // GEMV columns decoded together
  static constexpr int kRowTile = 2;   // GEMM register tile: 2 rows x 2 weight rows (8 ymm accumulators)
  static constexpr int kColTile = 2;

  [[gnu::always_inline]] static __m128i bytes8(const uint8_t* p) {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  }
  [[gnu::always_inline]] static T i8(const uint8_t* p) {
    return {_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8(p))), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes8(p + 8)))};
  }
  [[gnu::always_inline]] static __m256i u8(const uint8_t* p) { return _mm256_cvtepu8_epi32(bytes8(p)); }
  [[gnu::always_inline]] static __m256 lo4(__m256i c) {
    return _mm256_cvtepi32_ps(_mm256_and_si256(c, _mm256_set1_epi32(15)));
  }
  [[gnu::always_inline]] static T nib_lo(const uint8_t* p) { return {lo4(u8(p)), lo4(u8(p + 8))}; }
  [[gnu::always_inline]] static T nib_hi(const uint8_t* p) {
    return {_mm256_cvtepi32_ps(_mm256_srli_epi32(u8(p), 4)), _mm256_cvtepi32_ps(_mm256_srli_epi32(u8(p + 8), 4))};
  }
  // kvalues_mxfp4 of a nibble (in the low 4 bits of c; higher bits ignored): two 8-entry tables
  // (permutevar8x32 reads the low 3 bits), the negative one chosen by bit 3. Code 8 is +0 (not
  // -0, which a sign xor would give), as ggml's table has it.
  [[gnu::always_inline]] static __m256 mx8(__m256i c) {
    const __m256 pos = _mm256_setr_ps(0, 1, 2, 3, 4, 6, 8, 12);
    const __m256 neg = _mm256_setr_ps(0, -1, -2, -3, -4, -6, -8, -12);
    const __m256 sel = _mm256_castsi256_ps(_mm256_slli_epi32(c, 28));  // bit 3 -> sign bit
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(pos, c), _mm256_permutevar8x32_ps(neg, c), sel);
  }
  [[gnu::always_inline]] static T mx_lo(const uint8_t* p) { return {mx8(u8(p)), mx8(u8(p + 8))}; }
  [[gnu::always_inline]] static T mx_hi(const uint8_t* p) {
    return {mx8(_mm256_srli_epi32(u8(p), 4)), mx8(_mm256_srli_epi32(u8(p + 8), 4))};
  }
  [[gnu::always_inline]] static T f16(const uint8_t* p) {
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)))};
  }
  [[gnu::always_inline]] static __m256 bf16_8(const uint8_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  [[gnu::always_inline]] static T bf16(const uint8_t* p) { return {bf16_8(p), bf16_8(p + 16)}; }
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

GgmlColumnsFn ggml_columns_avx2() { return &ggml_columns<V16Avx2Ggml>; }

}  // namespace dsv4::kernels
#endif  // __x86_64__

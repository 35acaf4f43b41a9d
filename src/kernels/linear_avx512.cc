// AVX-512 tier of the linears: compiled with -mavx512f/bw/vl (the set cpu_features() requires for
// the tier) and called only when cpu_features() reports them. A 16-lane vector is one __m512.
// Same kernels and the same canonical order as the AVX2 tier (linear_simd_impl.h): they agree bitwise.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/linear_simd.h"
#include "kernels/simd_v16.h"

namespace dsv4::kernels {
namespace {

struct V16Avx512 : V16Avx512Core {
  static constexpr int kColTile = 4;  // 32 zmm registers: 4 columns x (acc + partial) fit
  static constexpr int kRowTile = 4;
  static constexpr int kFp8RowTile = 4;


  // e4m3 s|eeee|mmm -> fp32 bits s|0000eeee|mmm0...: the value times 2^-120, exact for normals
  // and subnormals alike, so one multiply by 2^120 restores it (no table gather). Sign-extending
  // the byte and shifting by 20 puts the sign in bit 31 and eeeemmm in bits 26..20 at once.
  [[gnu::always_inline]] static T e4m3(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m512i c = _mm512_slli_epi32(_mm512_cvtepi8_epi32(bytes), 20);
    const __m512i bits = _mm512_and_si512(c, _mm512_set1_epi32(int(0x87f00000u)));
    return _mm512_mul_ps(_mm512_castsi512_ps(bits), _mm512_set1_ps(0x1p120f));
  }

  // e2m1: the nibble indexes a 16-entry table held in one register (permutexvar reads the low 4
  // bits of each index). Byte l holds k = 2l (low nibble) and 2l+1 (high nibble).
  [[gnu::always_inline]] static void e2m1(const uint8_t* p, T& even, T& odd) {
    const __m512 grid = _mm512_setr_ps(0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,  //
                                       -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f);
    const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    even = _mm512_permutexvar_ps(c, grid);
    odd = _mm512_permutexvar_ps(_mm512_srli_epi32(c, 4), grid);
  }

  // UE8M0 bytes -> 2^(e-127) (e << 23), with e = 0 -> 2^-127 and e = 255 -> NaN (ue8m0_to_f32).
  [[gnu::always_inline]] static T ue8m0(const uint8_t* p) {
    const __m512i e = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    __m512i bits = _mm512_slli_epi32(e, 23);
    bits = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()), bits,
                                   _mm512_set1_epi32(0x00400000));
    bits = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(e, _mm512_set1_epi32(255)), bits,
                                   _mm512_set1_epi32(0x7fc00000));
    return _mm512_castsi512_ps(bits);
  }

  [[gnu::always_inline]] static T bf16(const uint16_t* p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  }

  // 16 activations -> e4m3 values, as V16Avx2::fp8_quant8 (see there).
  [[gnu::always_inline]] static void fp8_quant16(const float* x, float inv_scale, float* out) {
    const __m512 scaled = _mm512_mul_ps(_mm512_loadu_ps(x), _mm512_set1_ps(inv_scale));
    const __m512 v = _mm512_min_ps(_mm512_set1_ps(448.0f), _mm512_max_ps(_mm512_set1_ps(-448.0f), scaled));
    const __m512i u = _mm512_castps_si512(v);
    const __m512i sign = _mm512_and_si512(u, _mm512_set1_epi32(int(0x80000000u)));
    const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(a, 20), _mm512_set1_epi32(1));
    const __m512i normal = _mm512_and_si512(_mm512_add_epi32(a, _mm512_add_epi32(_mm512_set1_epi32(0x7ffff), lsb)),
                                            _mm512_set1_epi32(int(0xfff00000u)));
    const __m512 grid = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(512.0f)),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i sub = _mm512_castps_si512(_mm512_mul_ps(grid, _mm512_set1_ps(1.0f / 512.0f)));
    const __mmask16 is_sub = _mm512_cmpgt_epi32_mask(_mm512_set1_epi32(0x3c800000), a);
    const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7f800000));
    __m512i mag = _mm512_mask_blend_epi32(is_sub, normal, sub);
    mag = _mm512_mask_blend_epi32(is_nan, mag, _mm512_set1_epi32(0x7fc00000));
    _mm512_storeu_ps(out, _mm512_castsi512_ps(_mm512_or_si512(mag, sign)));
  }
};

}  // namespace
}  // namespace dsv4::kernels

#include "kernels/linear_simd_impl.h"

namespace dsv4::kernels {

const SimdKernels& simd_kernels_avx512() {
  static const SimdKernels k = make_simd_kernels<V16Avx512>();
  return k;
}

}  // namespace dsv4::kernels
#endif  // __x86_64__

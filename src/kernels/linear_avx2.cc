// AVX2 + FMA + F16C tier of the linears (compiled with -mavx2 -mfma -mf16c; called only when
// cpu_features() reports them). A 16-lane vector is two __m256: lanes 0-7 and 8-15.
#if defined(__x86_64__)
#include <immintrin.h>

#include "kernels/linear_simd.h"
#include "kernels/simd_v16.h"

namespace dsv4::kernels {
namespace {

struct V16Avx2 : V16Avx2Core {
  static constexpr int kColTile = 2;  // 16 ymm registers: GEMV 2 columns x (acc + partial),
  static constexpr int kRowTile = 4;     // GEMM: 4 rows x acc + the weight vectors
  static constexpr int kFp8RowTile = 2;  // FP8 GEMM keeps a block partial per row as well

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
  // each index) and the sign comes from one xor with nibble << 28, which puts the sign bit at
  // bit 31 but also the 3 magnitude bits at 28..30. The table is stored with those 3 bits
  // pre-xored (entry m holds bits(value m) ^ m << 28), so the same xor cancels them: 3 ops per 8
  // values instead of 4. Byte l holds k = 2l (low nibble) and 2l+1 (high); for the low nibble,
  // byte << 28 drops the high nibble by itself.
  [[gnu::always_inline]] static __m256 e2m1_grid() {
    return _mm256_castsi256_ps(_mm256_setr_epi32(0x00000000, 0x3f000000 ^ (1 << 28), 0x3f800000 ^ (2 << 28),
                                                 0x3fc00000 ^ (3 << 28), 0x40000000 ^ (4 << 28),
                                                 0x40400000 ^ (5 << 28), 0x40800000 ^ (6 << 28),
                                                 int(0x40c00000u ^ (7u << 28))));
  }
  [[gnu::always_inline]] static void e2m1_8(__m128i bytes8, __m256& even, __m256& odd) {
    const __m256 grid = e2m1_grid();
    const __m256i c = _mm256_cvtepu8_epi32(bytes8);
    const __m256i hi = _mm256_srli_epi32(c, 4);
    even = _mm256_xor_ps(_mm256_permutevar8x32_ps(grid, c), _mm256_castsi256_ps(_mm256_slli_epi32(c, 28)));
    odd = _mm256_xor_ps(_mm256_permutevar8x32_ps(grid, hi), _mm256_castsi256_ps(_mm256_slli_epi32(hi, 28)));
  }
  [[gnu::always_inline]] static void e2m1(const uint8_t* p, T& even, T& odd) {
    e2m1_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), even.lo, odd.lo);
    e2m1_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)), even.hi, odd.hi);
  }

  // UE8M0 bytes -> 2^(e-127) (e << 23), with e = 0 -> 2^-127 and e = 255 -> NaN (ue8m0_to_f32).
  [[gnu::always_inline]] static __m256 ue8m0_8(__m128i bytes8) {
    const __m256i e = _mm256_cvtepu8_epi32(bytes8);
    __m256i bits = _mm256_slli_epi32(e, 23);
    bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(0x00400000), _mm256_cmpeq_epi32(e, _mm256_setzero_si256()));
    bits = _mm256_blendv_epi8(bits, _mm256_set1_epi32(0x7fc00000), _mm256_cmpeq_epi32(e, _mm256_set1_epi32(255)));
    return _mm256_castsi256_ps(bits);
  }
  [[gnu::always_inline]] static T ue8m0(const uint8_t* p) {
    return {ue8m0_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))),
            ue8m0_8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)))};
  }

  [[gnu::always_inline]] static __m256 bf16_8(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  [[gnu::always_inline]] static T bf16(const uint16_t* p) { return {bf16_8(p), bf16_8(p + 8)}; }

  // 8 activations -> e4m3 values: clamp (NaN passes, as std::clamp), then either the subnormal
  // grid (|v| < 2^-6: round(v * 512) / 512, exact) or round-to-nearest-even of the fp32 pattern
  // to 3 mantissa bits (the carry may bump the exponent, as in f32_to_fp8_e4m3); NaN -> +-qNaN.
  [[gnu::always_inline]] static __m256 fp8_quant8(__m256 x, __m256 inv_scale) {
    const __m256 scaled = _mm256_mul_ps(x, inv_scale);
    const __m256 v = _mm256_min_ps(_mm256_set1_ps(448.0f), _mm256_max_ps(_mm256_set1_ps(-448.0f), scaled));
    const __m256i u = _mm256_castps_si256(v);
    const __m256i sign = _mm256_and_si256(u, _mm256_set1_epi32(int(0x80000000u)));
    const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(a, 20), _mm256_set1_epi32(1));
    const __m256i normal = _mm256_and_si256(_mm256_add_epi32(a, _mm256_add_epi32(_mm256_set1_epi32(0x7ffff), lsb)),
                                            _mm256_set1_epi32(int(0xfff00000u)));
    const __m256 grid = _mm256_round_ps(_mm256_mul_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(512.0f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i sub = _mm256_castps_si256(_mm256_mul_ps(grid, _mm256_set1_ps(1.0f / 512.0f)));
    const __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x3c800000), a);
    const __m256i is_nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f800000));
    __m256i mag = _mm256_blendv_epi8(normal, sub, is_sub);
    mag = _mm256_blendv_epi8(mag, _mm256_set1_epi32(0x7fc00000), is_nan);
    return _mm256_castsi256_ps(_mm256_or_si256(mag, sign));
  }
  [[gnu::always_inline]] static void fp8_quant16(const float* x, float inv_scale, float* out) {
    const __m256 s = _mm256_set1_ps(inv_scale);
    _mm256_storeu_ps(out, fp8_quant8(_mm256_loadu_ps(x), s));
    _mm256_storeu_ps(out + 8, fp8_quant8(_mm256_loadu_ps(x + 8), s));
  }
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

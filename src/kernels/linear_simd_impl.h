// The SIMD column kernels, written once over a 16-lane fp32 vector type V and instantiated by
// each ISA file (linear_avx2.cc: V = two __m256, linear_avx512.cc: V = one __m512). Include only
// from those files, after defining V. Everything sits in an anonymous namespace: each ISA file
// gets its own copy, compiled with its own flags, and nothing leaks across (ODR).
//
// V provides: T, kColTile, kRowTile, kFp8RowTile, zero, load, store, bcast, mul, fma (fused
// a*b+c), reduce, e4m3 (16 codes -> 16 floats), e2m1 (16 packed bytes -> 16 even-k + 16 odd-k
// floats), ue8m0 (16 scale bytes -> 16 floats), bf16, fp8_quant16 (16 activations -> their e4m3
// values). The tile sizes change only
// which outputs are computed together, never the order.
//
// The canonical order (identical on every tier, so AVX2 and AVX-512 agree bitwise). Lane l of a
// 16-lane accumulator takes the K positions that fall in lane l of each 16-wide vector, in order
// of K; then reduce() folds the lanes by a fixed tree: l + (l+8), then + (l+4), + (l+2), + (l+1).
//   FP8, per 128-block b:  p = 0; p = fma(a_v, w_v, p) for each 16-vector v of the block (the
//     e4m3 x e4m3 products are exact, so fused or not is the same); acc = fma(p, sa*sw, acc).
//   FP4, per 32-block s:   t = fma(a_odd, w_odd, a_even * w_even) (exact products);
//     acc = fma(t, sa[s/4]*sw[s], acc).
//   bf16/f32:              acc = fma(x_v, w_v, acc) over the vectors of K.
// Past K both operands are zero (the tail vector adds +0 products).
// The order depends only on K: not on m, the other rows, the column tile or the thread split.
// GEMV (m == 1) decodes weights straight into registers, several columns at once; GEMM (m > 1)
// decodes each weight row once into scratch and runs every row over it. Both do the same
// arithmetic per output, so they agree bitwise.
#pragma once
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "kernels/linear_simd.h"

namespace dsv4::kernels {
namespace {

constexpr int64_t kL = kSimdLanes;

// Per-vector helpers must inline into the loops (GCC otherwise calls them and returns the vector
// through memory, several times slower); the rare tail paths stay out of line.
#define DSV4_SIMD_INLINE [[gnu::always_inline]] inline
#define DSV4_SIMD_COLD [[gnu::noinline, gnu::cold]]
// Loops over the columns / rows of a tile must unroll fully, or GCC -O2 keeps the accumulator
// arrays in memory (a store-to-load round trip on every FMA).
#define DSV4_UNROLL _Pragma("GCC unroll 16")

inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Same as round_bf16 (tensor/bf16.h), local so that no shared inline code is compiled here.
inline float round_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return f32_from_bits((u & 0xffff0000u) | 0x00400000u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return f32_from_bits(u & 0xffff0000u);
}

// Same as ue8m0_to_f32 (tensor/fp8.h): 2^(e-127), e = 0 -> 2^-127, e = 255 -> NaN.
inline float ue8m0_value(uint8_t e) {
  if (e == 255) return f32_from_bits(0x7fc00000u);
  if (e == 0) return f32_from_bits(0x00400000u);
  return f32_from_bits(static_cast<uint32_t>(e) << 23);
}

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// GEMV streams each weight row once from mmapped page-cache pages, often 4 KiB ones (2 MiB folios
// only where the kernel's readahead made them): the hardware prefetchers stop at page boundaries,
// so a software prefetch this far ahead of the read keeps the next page's lines (and its TLB
// entry) coming. flash-slice decode, 2 threads: ~10% more tokens/s with 1-8 KiB (noisy host;
// 2 KiB in the middle). A hint only: it never faults and cannot change the numerics.
#ifndef DSV4_PREFETCH_BYTES
#define DSV4_PREFETCH_BYTES 2048
#endif
DSV4_SIMD_INLINE void prefetch_ahead(const void* p) {
  __builtin_prefetch(static_cast<const char*>(p) + DSV4_PREFETCH_BYTES, 0, 0);
}

// Decoders for a partial vector: the missing elements are zero codes (value +0).
template <class V>
DSV4_SIMD_COLD typename V::T e4m3_partial(const uint8_t* p, int64_t len) {
  uint8_t buf[kL] = {};
  std::memcpy(buf, p, static_cast<size_t>(len));
  return V::e4m3(buf);
}
template <class V>
DSV4_SIMD_COLD typename V::T ue8m0_partial(const uint8_t* p, int64_t len) {
  uint8_t buf[kL] = {};
  std::memcpy(buf, p, static_cast<size_t>(len));
  return V::ue8m0(buf);
}
template <class V>
DSV4_SIMD_COLD typename V::T bf16_partial(const uint16_t* p, int64_t len) {
  uint16_t buf[kL] = {};
  std::memcpy(buf, p, static_cast<size_t>(len) * sizeof(uint16_t));
  return V::bf16(buf);
}
template <class V>
DSV4_SIMD_COLD typename V::T f32_partial(const float* p, int64_t len) {
  float buf[kL] = {};
  std::memcpy(buf, p, static_cast<size_t>(len) * sizeof(float));
  return V::load(buf);
}

// ---- FP8 --------------------------------------------------------------------------------------

// Weight vector v of 128-block starting at k0 of one row (codes of that row).
template <class V>
DSV4_SIMD_INLINE typename V::T fp8_weights(const uint8_t* row, int64_t k, int64_t kk) {
  return kk + kL <= k ? V::e4m3(row + kk) : e4m3_partial<V>(row + kk, k - kk);
}

// Row 0 of a (m == 1), CT columns starting at j.
template <class V, int CT>
void fp8_gemv_cols(const SimdActs& a, const Fp8Matrix& w, int64_t j, float* y) {
  using T = typename V::T;
  const int64_t k = w.cols, kb = (k + kWeightBlock - 1) / kWeightBlock;
  const uint8_t* rows[CT];
  const uint8_t* scales[CT];
  T acc[CT];
  DSV4_UNROLL for (int c = 0; c < CT; ++c) {
    rows[c] = w.codes + (j + c) * k;
    scales[c] = w.scales + ((j + c) / kWeightBlock) * kb;
    acc[c] = V::zero();
  }
  for (int64_t b = 0; b < kb; ++b) {
    const int64_t k0 = b * kWeightBlock, k1 = min64(k, k0 + kWeightBlock);
    T p[CT];
    DSV4_UNROLL for (int c = 0; c < CT; ++c) p[c] = V::zero();
    for (int64_t kk = k0; kk < k1; kk += kL) {
      const T av = V::load(a.vals + kk);
      DSV4_UNROLL for (int c = 0; c < CT; ++c) {
        prefetch_ahead(rows[c] + kk);
        p[c] = V::fma(av, fp8_weights<V>(rows[c], k, kk), p[c]);
      }
    }
    const float sa = a.scales[b];
    DSV4_UNROLL for (int c = 0; c < CT; ++c) acc[c] = V::fma(p[c], V::bcast(sa * ue8m0_value(scales[c][b])), acc[c]);
  }
  DSV4_UNROLL for (int c = 0; c < CT; ++c) y[j + c] = round_to_bf16(V::reduce(acc[c]));
}

// RT rows starting at r0 against one decoded weight row wd (zero past K) with block scales sw.
template <class V, int RT>
void fp8_gemm_rows(const SimdActs& a, int64_t r0, const float* wd, const float* sw, int64_t k, int64_t j,
                   int64_t n, float* y) {
  using T = typename V::T;
  const int64_t kb = (k + kWeightBlock - 1) / kWeightBlock;
  T acc[RT];
  DSV4_UNROLL for (int r = 0; r < RT; ++r) acc[r] = V::zero();
  for (int64_t b = 0; b < kb; ++b) {
    const int64_t k0 = b * kWeightBlock, k1 = min64(k, k0 + kWeightBlock);
    T p[RT];
    DSV4_UNROLL for (int r = 0; r < RT; ++r) p[r] = V::zero();
    for (int64_t kk = k0; kk < k1; kk += kL) {
      const T wv = V::load(wd + kk);
      DSV4_UNROLL for (int r = 0; r < RT; ++r) p[r] = V::fma(V::load(a.vals + (r0 + r) * a.stride + kk), wv, p[r]);
    }
    DSV4_UNROLL for (int r = 0; r < RT; ++r) {
      acc[r] = V::fma(p[r], V::bcast(a.scales[(r0 + r) * a.n_blocks + b] * sw[b]), acc[r]);
    }
  }
  DSV4_UNROLL for (int r = 0; r < RT; ++r) y[(r0 + r) * n + j] = round_to_bf16(V::reduce(acc[r]));
}

template <class V>
void fp8_columns(const SimdActs& a, const Fp8Matrix& w, int64_t j0, int64_t j1, float* y, float* scratch) {
  const int64_t k = w.cols, n = w.rows, kb = (k + kWeightBlock - 1) / kWeightBlock;
  if (a.m == 1) {
    int64_t j = j0;
    for (; j + V::kColTile <= j1; j += V::kColTile) fp8_gemv_cols<V, V::kColTile>(a, w, j, y);
    for (; j < j1; ++j) fp8_gemv_cols<V, 1>(a, w, j, y);
    return;
  }
  float* wd = scratch;               // a.stride floats
  float* sw = scratch + a.stride;    // kb floats
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* row = w.codes + j * k;
    for (int64_t kk = 0; kk < a.stride; kk += kL) V::store(wd + kk, fp8_weights<V>(row, k, kk));
    for (int64_t b = 0; b < kb; ++b) sw[b] = ue8m0_value(w.scales[(j / kWeightBlock) * kb + b]);
    int64_t r = 0;
    for (; r + V::kFp8RowTile <= a.m; r += V::kFp8RowTile)
      fp8_gemm_rows<V, V::kFp8RowTile>(a, r, wd, sw, k, j, n, y);
    for (; r < a.m; ++r) fp8_gemm_rows<V, 1>(a, r, wd, sw, k, j, n, y);
  }
}

// ---- FP4 --------------------------------------------------------------------------------------

// An MXFP4 block's 16 code bytes (element i < 16 in the low nibble of byte i, element i + 16 in
// its high nibble) repacked to the checkpoint's order (elements 2i, 2i+1 in byte i), so that the
// e2m1 decoder and everything after it run unchanged. SSSE3 byte shuffles: both ISA files have it.
template <class V>
DSV4_SIMD_INLINE void mxfp4_to_pairs(const uint8_t* mx, uint8_t* out) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mx));
  const __m128i m4 = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(b, m4), hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);  // elements 0-15, 16-31
  const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i odd = _mm_setr_epi8(1, 3, 5, 7, 9, 11, 13, 15, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i e = _mm_unpacklo_epi64(_mm_shuffle_epi8(lo, even), _mm_shuffle_epi8(hi, even));
  const __m128i o = _mm_unpacklo_epi64(_mm_shuffle_epi8(lo, odd), _mm_shuffle_epi8(hi, odd));
  // o < 16 in every byte: the 16-bit shift moves each nibble within its own byte.
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_or_si128(e, _mm_slli_epi16(o, 4)));
}

// Where sub-block s of an FP4 row keeps its 16 code bytes and its scale, in either layout.
template <bool MX>
struct Fp4Row {
  const uint8_t* codes = nullptr;
  const uint8_t* scales = nullptr;
  Fp4Row() = default;
  Fp4Row(const Fp4Matrix& w, int64_t j) {
    const int64_t sb = w.cols / kFp4Block;
    codes = MX ? w.packed + j * sb * kMxfp4BlockBytes : w.packed + j * (w.cols / 2);
    scales = MX ? codes : w.scales + j * sb;
  }
  DSV4_SIMD_INLINE const uint8_t* block(int64_t s) const {
    return MX ? codes + s * kMxfp4BlockBytes + 1 : codes + s * (kFp4Block / 2);
  }
  DSV4_SIMD_INLINE uint8_t scale(int64_t s) const { return MX ? scales[s * kMxfp4BlockBytes] : scales[s]; }
};

// 16 even-k and 16 odd-k weights of sub-block s.
template <class V, bool MX>
DSV4_SIMD_INLINE void fp4_decode(const Fp4Row<MX>& row, int64_t s, typename V::T& we, typename V::T& wo) {
  if constexpr (MX) {
    alignas(16) uint8_t pairs[kFp4Block / 2];
    mxfp4_to_pairs<V>(row.block(s), pairs);
    V::e2m1(pairs, we, wo);
  } else {
    V::e2m1(row.block(s), we, wo);
  }
}

// The scales of sub-blocks s0 .. s0+cnt-1 (cnt <= 16) as floats.
template <class V, bool MX>
DSV4_SIMD_INLINE typename V::T fp4_scales(const Fp4Row<MX>& row, int64_t s0, int64_t cnt) {
  if constexpr (MX) {
    uint8_t buf[kL] = {};
    for (int64_t i = 0; i < cnt; ++i) buf[i] = row.scale(s0 + i);
    return V::ue8m0(buf);
  } else {
    return cnt == kL ? V::ue8m0(row.scales + s0) : ue8m0_partial<V>(row.scales + s0, cnt);
  }
}

template <class V, int CT, bool MX>
void fp4_gemv_cols(const SimdActs& a, const Fp4Matrix& w, int64_t j, float* y) {
  using T = typename V::T;
  const int64_t k = w.cols, sb = k / kFp4Block, per_act = kActBlock / kFp4Block;
  Fp4Row<MX> rows[CT];
  T acc[CT];
  DSV4_UNROLL for (int c = 0; c < CT; ++c) {
    rows[c] = Fp4Row<MX>(w, j + c);
    acc[c] = V::zero();
  }
  // Per 16 sub-blocks: the products sa * sw for every column at once (the same fp32 products as
  // one at a time), so the inner loop only broadcasts them.
  for (int64_t s0 = 0; s0 < sb; s0 += kL) {
    const int64_t cnt = min64(kL, sb - s0);
    float sa16[kL] = {};
    for (int64_t i = 0; i < cnt; ++i) sa16[i] = a.scales[(s0 + i) / per_act];
    const T sav = V::load(sa16);
    float sc[CT][kL];
    DSV4_UNROLL for (int c = 0; c < CT; ++c) V::store(sc[c], V::mul(sav, fp4_scales<V, MX>(rows[c], s0, cnt)));
    for (int64_t i = 0; i < cnt; ++i) {
      const int64_t s = s0 + i;
      const T ae = V::load(a.vals + s * kFp4Block), ao = V::load(a.vals + s * kFp4Block + kL);
      DSV4_UNROLL for (int c = 0; c < CT; ++c) {
        T we, wo;
        prefetch_ahead(rows[c].block(s));
        fp4_decode<V, MX>(rows[c], s, we, wo);
        const T t = V::fma(ao, wo, V::mul(ae, we));
        acc[c] = V::fma(t, V::bcast(sc[c][i]), acc[c]);
      }
    }
  }
  DSV4_UNROLL for (int c = 0; c < CT; ++c) y[j + c] = round_to_bf16(V::reduce(acc[c]));
}

template <class V, int RT>
void fp4_gemm_rows(const SimdActs& a, int64_t r0, const float* wd, const float* sw, int64_t k, int64_t j,
                   int64_t n, float* y) {
  using T = typename V::T;
  const int64_t sb = k / kFp4Block, per_act = kActBlock / kFp4Block;
  T acc[RT];
  DSV4_UNROLL for (int r = 0; r < RT; ++r) acc[r] = V::zero();
  for (int64_t s = 0; s < sb; ++s) {
    const T we = V::load(wd + s * kFp4Block), wo = V::load(wd + s * kFp4Block + kL);
    DSV4_UNROLL for (int r = 0; r < RT; ++r) {
      const float* ar = a.vals + (r0 + r) * a.stride + s * kFp4Block;
      const T t = V::fma(V::load(ar + kL), wo, V::mul(V::load(ar), we));
      acc[r] = V::fma(t, V::bcast(a.scales[(r0 + r) * a.n_blocks + s / per_act] * sw[s]), acc[r]);
    }
  }
  DSV4_UNROLL for (int r = 0; r < RT; ++r) y[(r0 + r) * n + j] = round_to_bf16(V::reduce(acc[r]));
}

template <class V, bool MX>
void fp4_columns_layout(const SimdActs& a, const Fp4Matrix& w, int64_t j0, int64_t j1, float* y, float* scratch) {
  const int64_t k = w.cols, n = w.rows, sb = k / kFp4Block;
  if (a.m == 1) {
    int64_t j = j0;
    for (; j + V::kColTile <= j1; j += V::kColTile) fp4_gemv_cols<V, V::kColTile, MX>(a, w, j, y);
    for (; j < j1; ++j) fp4_gemv_cols<V, 1, MX>(a, w, j, y);
    return;
  }
  float* wd = scratch;             // k floats: per 32-block 16 even-k then 16 odd-k values
  float* sw = scratch + a.stride;  // sb floats
  for (int64_t j = j0; j < j1; ++j) {
    const Fp4Row<MX> row(w, j);
    for (int64_t s = 0; s < sb; ++s) {
      typename V::T we, wo;
      fp4_decode<V, MX>(row, s, we, wo);
      V::store(wd + s * kFp4Block, we);
      V::store(wd + s * kFp4Block + kL, wo);
      sw[s] = ue8m0_value(row.scale(s));
    }
    int64_t r = 0;
    for (; r + V::kRowTile <= a.m; r += V::kRowTile) fp4_gemm_rows<V, V::kRowTile>(a, r, wd, sw, k, j, n, y);
    for (; r < a.m; ++r) fp4_gemm_rows<V, 1>(a, r, wd, sw, k, j, n, y);
  }
}

template <class V>
void fp4_columns(const SimdActs& a, const Fp4Matrix& w, int64_t j0, int64_t j1, float* y, float* scratch) {
  if (w.mxfp4) fp4_columns_layout<V, true>(a, w, j0, j1, y, scratch);
  else fp4_columns_layout<V, false>(a, w, j0, j1, y, scratch);
}

// ---- bf16 / f32 weights -----------------------------------------------------------------------

// Loads 16 weights at kk of a row of K (zero past K) as floats.
template <class V>
struct Bf16Row {
  DSV4_SIMD_INLINE static typename V::T at(const uint16_t* row, int64_t k, int64_t kk) {
    return kk + kL <= k ? V::bf16(row + kk) : bf16_partial<V>(row + kk, k - kk);
  }
};
template <class V>
struct F32Row {
  DSV4_SIMD_INLINE static typename V::T at(const float* row, int64_t k, int64_t kk) {
    return kk + kL <= k ? V::load(row + kk) : f32_partial<V>(row + kk, k - kk);
  }
};

template <class V, class Row, int CT, typename W>
void dense_gemv_cols(const SimdActs& a, const W* w, int64_t k, int64_t j, float* y, bool round_out) {
  using T = typename V::T;
  T acc[CT];
  DSV4_UNROLL for (int c = 0; c < CT; ++c) acc[c] = V::zero();
  for (int64_t kk = 0; kk < k; kk += kL) {
    const T xv = V::load(a.vals + kk);
    DSV4_UNROLL for (int c = 0; c < CT; ++c) {
      prefetch_ahead(w + (j + c) * k + kk);
      acc[c] = V::fma(xv, Row::at(w + (j + c) * k, k, kk), acc[c]);
    }
  }
  DSV4_UNROLL for (int c = 0; c < CT; ++c) {
    const float v = V::reduce(acc[c]);
    y[j + c] = round_out ? round_to_bf16(v) : v;
  }
}

template <class V, class Row, int RT, typename W>
void dense_gemm_rows(const SimdActs& a, int64_t r0, const W* row, int64_t k, int64_t j, int64_t n, float* y,
                     bool round_out) {
  using T = typename V::T;
  T acc[RT];
  DSV4_UNROLL for (int r = 0; r < RT; ++r) acc[r] = V::zero();
  for (int64_t kk = 0; kk < k; kk += kL) {
    const T wv = Row::at(row, k, kk);
    DSV4_UNROLL for (int r = 0; r < RT; ++r) acc[r] = V::fma(V::load(a.vals + (r0 + r) * a.stride + kk), wv, acc[r]);
  }
  DSV4_UNROLL for (int r = 0; r < RT; ++r) {
    const float v = V::reduce(acc[r]);
    y[(r0 + r) * n + j] = round_out ? round_to_bf16(v) : v;
  }
}

template <class V, class Row, typename W>
void dense_columns(const SimdActs& a, const W* w, int64_t n, int64_t k, int64_t j0, int64_t j1, float* y,
                   bool round_out) {
  if (a.m == 1) {
    int64_t j = j0;
    for (; j + V::kColTile <= j1; j += V::kColTile) dense_gemv_cols<V, Row, V::kColTile>(a, w, k, j, y, round_out);
    for (; j < j1; ++j) dense_gemv_cols<V, Row, 1>(a, w, k, j, y, round_out);
    return;
  }
  for (int64_t j = j0; j < j1; ++j) {
    int64_t r = 0;
    for (; r + V::kRowTile <= a.m; r += V::kRowTile)
      dense_gemm_rows<V, Row, V::kRowTile>(a, r, w + j * k, k, j, n, y, round_out);
    for (; r < a.m; ++r) dense_gemm_rows<V, Row, 1>(a, r, w + j * k, k, j, n, y, round_out);
  }
}

template <class V>
void bf16_columns(const SimdActs& a, const uint16_t* w, int64_t n, int64_t k, int64_t j0, int64_t j1, float* y,
                  bool round_out) {
  dense_columns<V, Bf16Row<V>>(a, w, n, k, j0, j1, y, round_out);
}

template <class V>
void f32_columns(const SimdActs& a, const float* w, int64_t n, int64_t k, int64_t j0, int64_t j1, float* y) {
  dense_columns<V, F32Row<V>>(a, w, n, k, j0, j1, y, false);
}

// ---- FP8 weights used as dequantized fp32 weights in the bf16 order (linear_fp8_dequant) -------

template <class V, int CT>
void fp8_dequant_gemv_cols(const SimdActs& a, const Fp8Matrix& w, int64_t row0, int64_t j, float* y, bool round_out) {
  using T = typename V::T;
  const int64_t k = w.cols, kb = (k + kWeightBlock - 1) / kWeightBlock;
  const uint8_t* rows[CT];
  const uint8_t* scales[CT];
  T acc[CT];
  DSV4_UNROLL for (int c = 0; c < CT; ++c) {
    rows[c] = w.codes + (row0 + j + c) * k;
    scales[c] = w.scales + ((row0 + j + c) / kWeightBlock) * kb;
    acc[c] = V::zero();
  }
  for (int64_t b = 0; b < kb; ++b) {
    const int64_t k0 = b * kWeightBlock, k1 = min64(k, k0 + kWeightBlock);
    T sv[CT];
    DSV4_UNROLL for (int c = 0; c < CT; ++c) sv[c] = V::bcast(ue8m0_value(scales[c][b]));
    for (int64_t kk = k0; kk < k1; kk += kL) {
      const T xv = V::load(a.vals + kk);
      DSV4_UNROLL for (int c = 0; c < CT; ++c) {
        prefetch_ahead(rows[c] + kk);
        acc[c] = V::fma(xv, V::mul(fp8_weights<V>(rows[c], k, kk), sv[c]), acc[c]);
      }
    }
  }
  DSV4_UNROLL for (int c = 0; c < CT; ++c) {
    const float v = V::reduce(acc[c]);
    y[j + c] = round_out ? round_to_bf16(v) : v;
  }
}

template <class V>
void fp8_dequant_columns(const SimdActs& a, const Fp8Matrix& w, int64_t row0, int64_t n, int64_t j0, int64_t j1,
                         float* y, bool round_out, float* scratch) {
  const int64_t k = w.cols, kb = (k + kWeightBlock - 1) / kWeightBlock;
  if (a.m == 1) {
    int64_t j = j0;
    for (; j + V::kColTile <= j1; j += V::kColTile) fp8_dequant_gemv_cols<V, V::kColTile>(a, w, row0, j, y, round_out);
    for (; j < j1; ++j) fp8_dequant_gemv_cols<V, 1>(a, w, row0, j, y, round_out);
    return;
  }
  float* wd = scratch;  // one dequantized row, a.stride floats (zero past K)
  for (int64_t j = j0; j < j1; ++j) {
    const int64_t row = row0 + j;
    const uint8_t* codes = w.codes + row * k;
    const uint8_t* sc = w.scales + (row / kWeightBlock) * kb;
    for (int64_t kk = 0; kk < a.stride; kk += kL)
      V::store(wd + kk, V::mul(fp8_weights<V>(codes, k, kk), V::bcast(ue8m0_value(sc[kk / kWeightBlock]))));
    int64_t r = 0;
    for (; r + V::kRowTile <= a.m; r += V::kRowTile)
      dense_gemm_rows<V, F32Row<V>, V::kRowTile>(a, r, wd, k, j, n, y, round_out);
    for (; r < a.m; ++r) dense_gemm_rows<V, F32Row<V>, 1>(a, r, wd, k, j, n, y, round_out);
  }
}

// ---- attention scores: one fp32 query against scattered bf16 rows -----------------------------

template <class V>
void row_dots(const float* q, const uint16_t* const* rows, int64_t n_rows, int64_t dim, float* out,
              float* rows_f32) {
  using T = typename V::T;
  for (int64_t j = 0; j < n_rows; ++j) {
    const uint16_t* row = rows[j];
    if (!row) continue;
    T acc = V::zero();
    for (int64_t kk = 0; kk < dim; kk += kL) {
      const bool full = kk + kL <= dim;
      const T wv = Bf16Row<V>::at(row, dim, kk);
      if (rows_f32) {
        if (full) {
          V::store(rows_f32 + j * dim + kk, wv);
        } else {
          float buf[kL];
          V::store(buf, wv);
          std::memcpy(rows_f32 + j * dim + kk, buf, static_cast<size_t>(dim - kk) * sizeof(float));
        }
      }
      acc = V::fma(full ? V::load(q + kk) : f32_partial<V>(q + kk, dim - kk), wv, acc);
    }
    out[j] = V::reduce(acc);
  }
}

// ---- FP8 activation quantization (per element; the block scales stay in act_quant.cc) -------

template <class V>
void fp8_quant_values(const float* x, int64_t n, float inv_scale, float* out) {
  int64_t i = 0;
  for (; i + kL <= n; i += kL) V::fp8_quant16(x + i, inv_scale, out + i);
  if (i < n) {
    float in[kL] = {}, res[kL];
    std::memcpy(in, x + i, static_cast<size_t>(n - i) * sizeof(float));
    V::fp8_quant16(in, inv_scale, res);
    std::memcpy(out + i, res, static_cast<size_t>(n - i) * sizeof(float));
  }
}

template <class V>
SimdKernels make_simd_kernels() {
  return {&fp8_columns<V>,     &fp4_columns<V>, &bf16_columns<V>,        &f32_columns<V>,
          &fp8_dequant_columns<V>, &row_dots<V>,    &fp8_quant_values<V>};
}

}  // namespace
}  // namespace dsv4::kernels

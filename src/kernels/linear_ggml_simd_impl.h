// The SIMD column kernels of linear_ggml, written once over a 16-lane fp32 vector type V and
// instantiated by each ISA file (linear_ggml_avx2.cc: two __m256, linear_ggml_avx512.cc: one
// __m512). Include only from those files, after defining V; everything sits in an anonymous
// namespace so each ISA file gets its own copy (ODR, as linear_simd_impl.h).
//
// V provides: T, kGemvCols, kRowTile, kColTile, zero, load, store, bcast, mul, sub, fma, reduce
// (the canonical lane tree l + (l+8), + (l+4), + (l+2), + (l+1)), and 16-value decoders: i8
// (int8 -> float), nib_lo / nib_hi (low / high nibbles of 16 bytes), mx_lo / mx_hi (the
// kvalues_mxfp4 integers of those nibbles), f16, bf16, plus the scalar f16_scalar.
//
// The canonical order (every tier, so AVX2 and AVX-512 agree bitwise): lane l accumulates
// acc = fma(x_v, w_v, acc) over the 16-vectors v of K in order (the weights past K and x past K
// are zero), then reduce(). A weight vector w_v holds bitwise the values of dequantize_ggml_row:
// the decoders repeat ggml's fp32 operations one intrinsic each (a mul then a sub, never fused).
// GEMV (m == 1) decodes one chunk (a block, or 16 values of a dense type) of a few columns at a
// time into L1; GEMM (m > 1) decodes a panel of weight rows once and runs every activation row
// over it. Both do the same arithmetic per output, so results do not depend on m or the split.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/linear_ggml_simd.h"
#include "tensor/ggml_quants.h"

namespace dsv4::kernels {
namespace {

#define DSV4_GGML_INLINE [[gnu::always_inline]] inline
#define DSV4_GGML_UNROLL _Pragma("GCC unroll 16")

constexpr int64_t kL = kGgmlLanes;

// Local copies (no shared inline code in an ISA file): bf16 rounding as tensor/bf16.h's
// round_bf16, and ggml_e8m0_to_fp32_half as tensor/ggml_quants.cc.
inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float round_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bits_to_f32((u & 0xffff0000u) | 0x00400000u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return bits_to_f32(u & 0xffff0000u);
}
inline float e8m0_half(uint8_t e) { return bits_to_f32(e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23); }

// Page-crossing software prefetch for the streamed weight rows (see linear_simd_impl.h).
#ifndef DSV4_PREFETCH_BYTES
#define DSV4_PREFETCH_BYTES 2048
#endif
DSV4_GGML_INLINE void prefetch_ahead(const uint8_t* p) { __builtin_prefetch(p + DSV4_PREFETCH_BYTES, 0, 0); }

// ---- chunk decoders: kElems values from kBytes bytes into out (bitwise dequantize_ggml_row) ----

template <class V>
struct F32Codec {
  static constexpr int64_t kElems = 16, kBytes = 64;
  DSV4_GGML_INLINE static void decode(const uint8_t* p, float* out) {
    float v[16];
    std::memcpy(v, p, 64);
    V::store(out, V::load(v));
  }
};
template <class V>
struct F16Codec {
  static constexpr int64_t kElems = 16, kBytes = 32;
  DSV4_GGML_INLINE static void decode(const uint8_t* p, float* out) { V::store(out, V::f16(p)); }
};
template <class V>
struct Bf16Codec {
  static constexpr int64_t kElems = 16, kBytes = 32;
  DSV4_GGML_INLINE static void decode(const uint8_t* p, float* out) { V::store(out, V::bf16(p)); }
};
// Q8_0: f16 d, 32 int8 codes; x = q * d.
template <class V>
struct Q8_0Codec {
  static constexpr int64_t kElems = 32, kBytes = 34;
  DSV4_GGML_INLINE static void decode(const uint8_t* p, float* out) {
    const auto d = V::bcast(V::f16_scalar(p));
    V::store(out, V::mul(V::i8(p + 2), d));
    V::store(out + 16, V::mul(V::i8(p + 18), d));
  }
};
// MXFP4: e8m0 byte, 16 bytes of nibbles (value j low, j + 16 high); x = kvalue * 2^(e-128).
template <class V>
struct Mxfp4Codec {
  static constexpr int64_t kElems = 32, kBytes = 17;
  DSV4_GGML_INLINE static void decode(const uint8_t* p, float* out) {
    const auto d = V::bcast(e8m0_half(p[0]));
    V::store(out, V::mul(V::mx_lo(p + 1), d));
    V::store(out + 16, V::mul(V::mx_hi(p + 1), d));
  }
};
// Q4_K: d, dmin, 6-bit scales/mins, 4 x 32 bytes of nibbles; x = (d*sc) * q - (dmin*m).
template <class V>
struct Q4KCodec {
  static constexpr int64_t kElems = 256, kBytes = 144;
  DSV4_GGML_INLINE static void decode(const uint8_t* p, float* out) {
    const float d = V::f16_scalar(p), dmin = V::f16_scalar(p + 2);
    const uint8_t* sc = p + 4;
    const uint8_t* q = p + 16;
    DSV4_GGML_UNROLL for (int j = 0; j < 8; ++j) {  // get_scale_min_k4(j)
      const int s = j < 4 ? sc[j] & 63 : (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
      const int m = j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
      const auto d1 = V::bcast(d * static_cast<float>(s));
      const auto m1 = V::bcast(dmin * static_cast<float>(m));
      const uint8_t* qq = q + 32 * (j / 2);
      DSV4_GGML_UNROLL for (int h = 0; h < 2; ++h) {
        const auto v = j % 2 ? V::nib_hi(qq + 16 * h) : V::nib_lo(qq + 16 * h);
        V::store(out + 32 * j + 16 * h, V::sub(V::mul(v, d1), m1));
      }
    }
  }
};
// The other super-block types go through the scalar reference decoder (one 256-value block).
template <GgmlType kType, int64_t kBlockBytes, int64_t kBlockElems = 256>
struct ScalarCodec {
  static constexpr int64_t kElems = kBlockElems, kBytes = kBlockBytes;
  static void decode(const uint8_t* p, float* out) { dequantize_ggml_row(kType, p, out, kBlockElems); }
};

// Decodes the chunk of `row` holding values [c0, c0 + kElems) of a row of k (zero past k: only
// dense types have a partial last chunk; a zero code decodes to +0 for them).
template <class C>
DSV4_GGML_INLINE void decode_chunk(const uint8_t* row, int64_t c, int64_t k, float* out) {
  const int64_t c0 = c * C::kElems;
  if (c0 + C::kElems <= k) {
    C::decode(row + c * C::kBytes, out);
    return;
  }
  uint8_t tmp[C::kBytes] = {};
  std::memcpy(tmp, row + c * C::kBytes, static_cast<size_t>((k - c0) * (C::kBytes / C::kElems)));
  C::decode(tmp, out);
}

// ---- GEMV: CT columns from j, activation row x ------------------------------------------------

template <class V, class C, int CT>
void gemv_cols(const float* x, const GgmlMatrix& w, int64_t j, float* y, bool round_out) {
  using T = typename V::T;
  const int64_t k = w.cols, nc = (k + C::kElems - 1) / C::kElems;
  const uint8_t* rows[CT];
  T acc[CT];
  DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) {
    rows[c] = w.data + (j + c) * w.row_bytes;
    acc[c] = V::zero();
  }
  alignas(64) float buf[CT][C::kElems];
  for (int64_t ch = 0; ch < nc; ++ch) {
    DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) {
      const uint8_t* p = rows[c] + ch * C::kBytes;
      for (int64_t o = 0; o < C::kBytes; o += 64) prefetch_ahead(p + o);
      decode_chunk<C>(rows[c], ch, k, buf[c]);
    }
    const float* xc = x + ch * C::kElems;
    DSV4_GGML_UNROLL for (int64_t v = 0; v < C::kElems; v += kL) {
      const T xv = V::load(xc + v);
      DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) acc[c] = V::fma(xv, V::load(buf[c] + v), acc[c]);
    }
  }
  DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) {
    const float s = V::reduce(acc[c]);
    y[j + c] = round_out ? round_to_bf16(s) : s;
  }
}

// ---- GEMM: RT rows x CT decoded weight rows (wd, stride apart) --------------------------------

template <class V, int RT, int CT>
void gemm_tile(const float* x, int64_t stride, int64_t r0, const float* wd, int64_t j, int64_t n, float* y,
               bool round_out) {
  using T = typename V::T;
  T acc[RT][CT];
  DSV4_GGML_UNROLL for (int r = 0; r < RT; ++r) DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) acc[r][c] = V::zero();
  for (int64_t kk = 0; kk < stride; kk += kL) {
    T wv[CT];
    DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) wv[c] = V::load(wd + c * stride + kk);
    DSV4_GGML_UNROLL for (int r = 0; r < RT; ++r) {
      const T xv = V::load(x + (r0 + r) * stride + kk);
      DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) acc[r][c] = V::fma(xv, wv[c], acc[r][c]);
    }
  }
  DSV4_GGML_UNROLL for (int r = 0; r < RT; ++r) DSV4_GGML_UNROLL for (int c = 0; c < CT; ++c) {
    const float s = V::reduce(acc[r][c]);
    y[(r0 + r) * n + j + c] = round_out ? round_to_bf16(s) : s;
  }
}

template <class V, int CT>
void gemm_rows(const float* x, int64_t m, int64_t stride, const float* wd, int64_t j, int64_t n, float* y,
               bool round_out) {
  int64_t r = 0;
  for (; r + V::kRowTile <= m; r += V::kRowTile) gemm_tile<V, V::kRowTile, CT>(x, stride, r, wd, j, n, y, round_out);
  for (; r < m; ++r) gemm_tile<V, 1, CT>(x, stride, r, wd, j, n, y, round_out);
}

template <class V, class C>
void columns(const float* x, int64_t m, int64_t stride, const GgmlMatrix& w, int64_t j0, int64_t j1, float* y,
             bool round_out, float* scratch) {
  const int64_t k = w.cols, n = w.rows, nc = (k + C::kElems - 1) / C::kElems;
  if (m == 1) {
    int64_t j = j0;
    for (; j + V::kGemvCols <= j1; j += V::kGemvCols) gemv_cols<V, C, V::kGemvCols>(x, w, j, y, round_out);
    for (; j < j1; ++j) gemv_cols<V, C, 1>(x, w, j, y, round_out);
    return;
  }
  // A panel of weight rows decoded once (L2-sized for the usual K), then each tile of
  // activation rows runs over all of it while those rows stay in cache.
  for (int64_t p0 = j0; p0 < j1; p0 += kGgmlPanelCols) {
    const int64_t pn = j1 - p0 < kGgmlPanelCols ? j1 - p0 : kGgmlPanelCols;
    for (int64_t c = 0; c < pn; ++c) {
      const uint8_t* row = w.data + (p0 + c) * w.row_bytes;
      float* wd = scratch + c * stride;
      // nc chunks fill exactly stride floats (a dense type's last chunk is zero-padded).
      for (int64_t ch = 0; ch < nc; ++ch) decode_chunk<C>(row, ch, k, wd + ch * C::kElems);
    }
    int64_t c = 0;
    for (; c + V::kColTile <= pn; c += V::kColTile)
      gemm_rows<V, V::kColTile>(x, m, stride, scratch + c * stride, p0 + c, n, y, round_out);
    for (; c < pn; ++c) gemm_rows<V, 1>(x, m, stride, scratch + c * stride, p0 + c, n, y, round_out);
  }
}

template <class V>
GgmlColumnsFn ggml_columns_for(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: return &columns<V, F32Codec<V>>;
    case GgmlType::kF16: return &columns<V, F16Codec<V>>;
    case GgmlType::kBF16: return &columns<V, Bf16Codec<V>>;
    case GgmlType::kQ8_0: return &columns<V, Q8_0Codec<V>>;
    case GgmlType::kMXFP4: return &columns<V, Mxfp4Codec<V>>;
    case GgmlType::kQ4_K: return &columns<V, Q4KCodec<V>>;
    case GgmlType::kQ6_K: return &columns<V, ScalarCodec<GgmlType::kQ6_K, 210>>;
    case GgmlType::kQ2_K: return &columns<V, ScalarCodec<GgmlType::kQ2_K, 84>>;
    case GgmlType::kIQ2_XXS: return &columns<V, ScalarCodec<GgmlType::kIQ2_XXS, 66>>;
    case GgmlType::kQ4_0: return &columns<V, ScalarCodec<GgmlType::kQ4_0, 18, 32>>;
    case GgmlType::kQ4_1: return &columns<V, ScalarCodec<GgmlType::kQ4_1, 20, 32>>;
    case GgmlType::kQ5_0: return &columns<V, ScalarCodec<GgmlType::kQ5_0, 22, 32>>;
    case GgmlType::kQ5_1: return &columns<V, ScalarCodec<GgmlType::kQ5_1, 24, 32>>;
    default: return nullptr;
  }
}

// One entry point per ISA: dispatches on the weight type.
template <class V>
void ggml_columns(const float* x, int64_t m, int64_t stride, const GgmlMatrix& w, int64_t j0, int64_t j1, float* y,
                  bool round_out, float* scratch) {
  ggml_columns_for<V>(w.type)(x, m, stride, w, j0, j1, y, round_out, scratch);
}

}  // namespace
}  // namespace dsv4::kernels

#include "tensor/ggml_quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/bf16.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/ggml_iq2_tables.h"

namespace dsv4 {
namespace {

// Exact fp32 values of ggml's dequantize_row_* (ggml-quants.c). Each product and difference is
// its own statement, in ggml's order: an fp32 expression like d1 * q - m1 must round twice, as
// ggml's portable C does, and a compiler allowed to contract within an expression (clang's
// default -ffp-contract=on) would fuse it into one FMA when the target has FMA.

float half_at(const uint8_t* p) {
  f16 h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// ggml_e8m0_to_fp32_half: 2^(e-128); e = 0, 1 are the subnormals 2^-128, 2^-127; no NaN (e = 255
// is 2^127), unlike the OCP MX rule of ue8m0_to_f32.
float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// kvalues_mxfp4: twice the e2m1 values, as integers (code 8, "-0", is +0 here).
constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// 256 values. Layout: d, dmin (f16), 12 bytes of 6-bit scales / mins, 128 bytes of nibbles.
void q4_k_block(const uint8_t* blk, float* y) {
  const float d = half_at(blk), dmin = half_at(blk + 2);
  const uint8_t* sc = blk + 4;
  const uint8_t* q = blk + 16;
  for (int j = 0; j < 8; ++j) {  // get_scale_min_k4(j)
    uint8_t s, m;
    if (j < 4) {
      s = sc[j] & 63;
      m = sc[j + 4] & 63;
    } else {
      s = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4));
      m = static_cast<uint8_t>((sc[j + 4] >> 4) | ((sc[j] >> 6) << 4));
    }
    const float d1 = d * static_cast<float>(s);
    const float m1 = dmin * static_cast<float>(m);
    // Sub-block j: the low nibbles (even j) or high nibbles (odd j) of bytes 32*(j/2) ...
    const uint8_t* qq = q + 32 * (j / 2);
    for (int l = 0; l < 32; ++l) {
      const int v = j % 2 ? qq[l] >> 4 : qq[l] & 0xF;
      const float p = d1 * static_cast<float>(v);
      y[32 * j + l] = p - m1;
    }
  }
}

// 256 values. Layout: ql[128], qh[64], int8 scales[16], d (f16).
void q6_k_block(const uint8_t* blk, float* y) {
  const uint8_t* ql = blk;
  const uint8_t* qh = blk + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
  const float d = half_at(blk + 208);
  for (int n = 0; n < 2; ++n, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q[4] = {((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32,
                        ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32,
                        ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32,
                        ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32};
      for (int g = 0; g < 4; ++g) {
        const float ds = d * static_cast<float>(sc[is + 2 * g]);  // d * sc * q, left to right
        y[l + 32 * g] = ds * static_cast<float>(q[g]);
      }
    }
  }
}

// 256 values. Layout: scales[16] (4-bit scale | 4-bit min << 4), qs[64] (2-bit codes), d, dmin.
void q2_k_block(const uint8_t* blk, float* y) {
  const uint8_t* scales = blk;
  const uint8_t* q = blk + 16;
  const float d = half_at(blk + 80), dmin = half_at(blk + 82);
  int is = 0;
  for (int n = 0; n < 2; ++n, q += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = scales[is++];
        const float dl = d * static_cast<float>(sc & 0xF);
        const float ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) {
          const float p = dl * static_cast<float>((q[l + 16 * half] >> shift) & 3);
          *y++ = p - ml;
        }
      }
    }
  }
}

// 256 values. Layout: d (f16), then per 32 values two uint32: 4 grid indices (bytes), and 4 x 7
// sign bits + a 4-bit scale in the top bits.
void iq2_xxs_block(const uint8_t* blk, float* y) {
  const float d = half_at(blk);
  for (int ib = 0; ib < 8; ++ib) {
    uint32_t aux[2];
    std::memcpy(aux, blk + 2 + 8 * ib, 8);
    const float t = 0.5f + static_cast<float>(aux[1] >> 28);
    const float dt = d * t;
    const float db = dt * 0.25f;
    for (int l = 0; l < 4; ++l) {
      const uint8_t idx = static_cast<uint8_t>(aux[0] >> (8 * l));
      const uint64_t grid = ggml_tables::kIq2xxsGrid[idx];
      const uint8_t signs = ggml_tables::kIq2Signs[(aux[1] >> (7 * l)) & 127];
      for (int j = 0; j < 8; ++j) {
        const float p = db * static_cast<float>((grid >> (8 * j)) & 0xFF);
        y[8 * l + j] = p * (signs & (1u << j) ? -1.0f : 1.0f);
      }
    }
    y += 32;
  }
}

// The legacy 32-value types (what llama.cpp's quantizer falls back to for rows that are not a
// multiple of 256): 4-bit codes (element j low nibble, j + 16 high), Q5 with a fifth bit per
// element in qh (element j: bit j, element j + 16: bit j + 16); _0 types are symmetric
// ((q - 8) * d, (q - 16) * d), _1 types add a minimum (q * d + m). ggml's order of operations.
float f16_at(const uint8_t* p) {
  f16 h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

void q4_block(const uint8_t* b, float* y, bool with_min) {
  const float d = f16_at(b), m = with_min ? f16_at(b + 2) : 0.0f;
  const uint8_t* qs = b + (with_min ? 4 : 2);
  for (int j = 0; j < 16; ++j) {
    if (with_min) {
      y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    } else {
      y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
      y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

void q5_block(const uint8_t* b, float* y, bool with_min) {
  const float d = f16_at(b), m = with_min ? f16_at(b + 2) : 0.0f;
  uint32_t qh;
  std::memcpy(&qh, b + (with_min ? 4 : 2), 4);
  const uint8_t* qs = b + (with_min ? 8 : 6);
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) << 4) & 0x10);
    const int x1 = (qs[j] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10);
    if (with_min) {
      y[j] = static_cast<float>(x0) * d + m;
      y[j + 16] = static_cast<float>(x1) * d + m;
    } else {
      y[j] = static_cast<float>(x0 - 16) * d;
      y[j + 16] = static_cast<float>(x1 - 16) * d;
    }
  }
}

}  // namespace

bool ggml_type_dequantizable(GgmlType t) {
  switch (t) {
    case GgmlType::kF32: case GgmlType::kF16: case GgmlType::kBF16: case GgmlType::kQ8_0: case GgmlType::kMXFP4:
    case GgmlType::kQ4_K: case GgmlType::kQ6_K: case GgmlType::kQ2_K: case GgmlType::kIQ2_XXS:
    case GgmlType::kQ4_0: case GgmlType::kQ4_1: case GgmlType::kQ5_0: case GgmlType::kQ5_1:
      return true;
    default: return false;
  }
}

bool dequantize_ggml_row(GgmlType t, const uint8_t* src, float* dst, int64_t n) {
  switch (t) {
    case GgmlType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return true;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        f16 h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
      return true;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        bf16 h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return true;
    case GgmlType::kQ8_0:
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = src + 34 * b;
        f16 h;
        std::memcpy(&h, blk, 2);
        const float d = f16_to_f32(h);
        for (int j = 0; j < 32; ++j) dst[32 * b + j] = d * static_cast<float>(static_cast<int8_t>(blk[2 + j]));
      }
      return true;
    case GgmlType::kMXFP4:  // ggml's rule: kvalues_mxfp4[code] (2 x e2m1) * 2^(e-128)
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = src + 17 * b;
        const float d = e8m0_half(blk[0]);
        for (int j = 0; j < 16; ++j) {
          dst[32 * b + j] = static_cast<float>(kMxfp4Values[blk[1 + j] & 0xF]) * d;
          dst[32 * b + j + 16] = static_cast<float>(kMxfp4Values[blk[1 + j] >> 4]) * d;
        }
      }
      return true;
    case GgmlType::kQ4_K:
      for (int64_t b = 0; b < n / 256; ++b) q4_k_block(src + 144 * b, dst + 256 * b);
      return true;
    case GgmlType::kQ6_K:
      for (int64_t b = 0; b < n / 256; ++b) q6_k_block(src + 210 * b, dst + 256 * b);
      return true;
    case GgmlType::kQ2_K:
      for (int64_t b = 0; b < n / 256; ++b) q2_k_block(src + 84 * b, dst + 256 * b);
      return true;
    case GgmlType::kIQ2_XXS:
      for (int64_t b = 0; b < n / 256; ++b) iq2_xxs_block(src + 66 * b, dst + 256 * b);
      return true;
    case GgmlType::kQ4_0:
      for (int64_t b = 0; b < n / 32; ++b) q4_block(src + 18 * b, dst + 32 * b, false);
      return true;
    case GgmlType::kQ4_1:
      for (int64_t b = 0; b < n / 32; ++b) q4_block(src + 20 * b, dst + 32 * b, true);
      return true;
    case GgmlType::kQ5_0:
      for (int64_t b = 0; b < n / 32; ++b) q5_block(src + 22 * b, dst + 32 * b, false);
      return true;
    case GgmlType::kQ5_1:
      for (int64_t b = 0; b < n / 32; ++b) q5_block(src + 24 * b, dst + 32 * b, true);
      return true;
    default: return false;
  }
}

void quantize_row_q8_0(const float* x, uint8_t* out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + 32 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    uint8_t* blk = out + 34 * b;
    const f16 h = f32_to_f16(d);
    std::memcpy(blk, &h, 2);
    for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(v[j] * id)));
  }
}

void fp4_row_to_mxfp4(const uint8_t* packed, const uint8_t* scales, int64_t n, uint8_t* out) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t codes[32];
    for (int j = 0; j < 16; ++j) {
      codes[2 * j] = fp4_low(packed[16 * b + j]);
      codes[2 * j + 1] = fp4_high(packed[16 * b + j]);
    }
    uint8_t* blk = out + 17 * b;
    blk[0] = scales[b];
    for (int j = 0; j < 16; ++j) blk[1 + j] = fp4_pack(codes[j], codes[j + 16]);
  }
}

void mxfp4_row_to_fp4(const uint8_t* in, int64_t n, uint8_t* packed, uint8_t* scales) {
  for (int64_t b = 0; b < n / 32; ++b) {
    const uint8_t* blk = in + 17 * b;
    uint8_t codes[32];
    for (int j = 0; j < 16; ++j) {
      codes[j] = fp4_low(blk[1 + j]);
      codes[j + 16] = fp4_high(blk[1 + j]);
    }
    scales[b] = blk[0];
    for (int j = 0; j < 16; ++j) packed[16 * b + j] = fp4_pack(codes[2 * j], codes[2 * j + 1]);
  }
}

bool fp8_blocks_from_values(const float* w, int64_t rows, int64_t cols, int64_t br, int64_t bc, uint8_t* codes,
                            uint8_t* scales) {
  const int64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc;
  for (int64_t bi = 0; bi < nbr; ++bi) {
    for (int64_t bj = 0; bj < nbc; ++bj) {
      const int64_t r0 = bi * br, r1 = std::min(rows, r0 + br), c0 = bj * bc, c1 = std::min(cols, c0 + bc);
      float amax = 0;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          const float v = w[r * cols + c];
          if (!std::isfinite(v)) return false;
          amax = std::max(amax, std::fabs(v));
        }
      // The smallest e with amax / 2^e <= 448 (ldexp is exact; no division rounding).
      int e = -127;
      if (amax > 0) {
        int ex = 0;
        std::frexp(amax / kFp8Max, &ex);
        e = ex;  // amax / 448 < 2^ex
        while (e > -127 && std::ldexp(kFp8Max, e - 1) >= amax) --e;
        while (std::ldexp(kFp8Max, e) < amax) ++e;
      }
      if (e < -127 || e > 127) return false;
      scales[bi * nbc + bj] = static_cast<uint8_t>(e + 127);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          const float v = w[r * cols + c];
          const float q = std::ldexp(v, -e);
          const uint8_t code = f32_to_fp8_e4m3(q);
          if (fp8_e4m3_to_f32(code) != q) return false;
          codes[r * cols + c] = code;
        }
    }
  }
  return true;
}

}  // namespace dsv4

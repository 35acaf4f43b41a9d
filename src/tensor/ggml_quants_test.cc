#include "tensor/ggml_quants.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "tensor/bf16.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/ggml_iq2_tables.h"
#include "tensor/ggml_ref_fixture.h"

namespace dsv4 {
namespace {

TEST(GgmlType, GeometryMatchesGgml) {
  EXPECT_EQ(ggml_info(GgmlType::kQ8_0).block_bytes, 34);
  EXPECT_EQ(ggml_info(GgmlType::kMXFP4).block_bytes, 17);
  EXPECT_EQ(ggml_info(GgmlType::kQ4_K).block_bytes, 144);
  EXPECT_EQ(ggml_info(GgmlType::kQ6_K).block_bytes, 210);
  EXPECT_EQ(ggml_info(GgmlType::kQ2_K).block_bytes, 84);
  EXPECT_EQ(ggml_info(GgmlType::kIQ2_XXS).block_bytes, 66);
  EXPECT_EQ(*ggml_row_bytes(GgmlType::kBF16, 10), 20u);
  EXPECT_FALSE(ggml_row_bytes(GgmlType::kQ8_0, 48).has_value());
  EXPECT_FALSE(ggml_type_info(31).has_value());
  EXPECT_EQ(*ggml_type_from_name("Q8_0"), GgmlType::kQ8_0);
  EXPECT_EQ(ggml_type_name(GgmlType::kIQ2_XXS), "iq2_xxs");
}

TEST(GgmlQuants, Q8_0MatchesGgmlReferenceRule) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 2);
  std::vector<float> x(128);
  for (float& v : x) v = nd(rng);
  x[5] = 0;
  std::vector<uint8_t> q(4 * 34);
  quantize_row_q8_0(x.data(), q.data(), 128);
  std::vector<float> y(128);
  ASSERT_TRUE(dequantize_ggml_row(GgmlType::kQ8_0, q.data(), y.data(), 128));
  for (int b = 0; b < 4; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    const float d = amax / 127;
    for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(y[32 * b + j] - x[32 * b + j]), d * 0.502f + 1e-3f * d);
  }
  EXPECT_EQ(y[5], 0.0f);
  // An all-zero block has d = 0 and zero codes.
  std::vector<float> z(32, 0.0f);
  quantize_row_q8_0(z.data(), q.data(), 32);
  for (int j = 0; j < 34; ++j) EXPECT_EQ(q[j], 0);
}

TEST(GgmlQuants, Mxfp4RepackIsLosslessBothWays) {
  std::mt19937 rng(5);
  const int64_t n = 96;
  std::vector<uint8_t> packed(n / 2), scales(n / 32);
  for (auto& b : packed) b = static_cast<uint8_t>(rng());
  for (auto& s : scales) s = static_cast<uint8_t>(100 + rng() % 50);
  std::vector<uint8_t> mx(n / 32 * 17);
  fp4_row_to_mxfp4(packed.data(), scales.data(), n, mx.data());
  std::vector<float> v(n);
  ASSERT_TRUE(dequantize_ggml_row(GgmlType::kMXFP4, mx.data(), v.data(), n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t byte = packed[i / 2];
    const float want = fp4_e2m1_to_f32(i % 2 ? fp4_high(byte) : fp4_low(byte)) * ue8m0_to_f32(scales[i / 32]);
    EXPECT_EQ(v[i], want) << i;
  }
  std::vector<uint8_t> packed2(n / 2), scales2(n / 32);
  mxfp4_row_to_fp4(mx.data(), n, packed2.data(), scales2.data());
  EXPECT_EQ(packed2, packed);
  EXPECT_EQ(scales2, scales);
}

// FP8 blocks quantized the reference's way (scale 2^ceil(log2(amax/448))) come back exactly,
// including the edge where the block's largest code is 224 (the recovered scale is then half the
// original and every code doubles: the same values).
TEST(GgmlQuants, Fp8RecoveryIsExactForFp8BlocksAndRefusesOthers) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0, 0.05f);
  const int64_t rows = 200, cols = 136, br = 128, bc = 128;
  const int64_t nbr = 2, nbc = 2;
  std::vector<float> w(rows * cols);
  std::vector<uint8_t> codes0(rows * cols), sc0(nbr * nbc);
  for (int64_t bi = 0; bi < nbr; ++bi)
    for (int64_t bj = 0; bj < nbc; ++bj) {
      const int e = -9 + static_cast<int>(bi * 2 + bj);
      sc0[bi * nbc + bj] = static_cast<uint8_t>(e + 127);
      for (int64_t r = bi * br; r < std::min(rows, (bi + 1) * br); ++r)
        for (int64_t c = bj * bc; c < std::min(cols, (bj + 1) * bc); ++c) {
          uint8_t code = f32_to_fp8_e4m3(nd(rng) * 300);
          if (bi == 1 && bj == 1) code = f32_to_fp8_e4m3(std::clamp(fp8_e4m3_to_f32(code), -224.0f, 224.0f));
          codes0[r * cols + c] = code;
          w[r * cols + c] = round_bf16(fp8_e4m3_to_f32(code) * std::ldexp(1.0f, e));
        }
    }
  w[0] = 448 * std::ldexp(1.0f, -9);  // block (0,0) reaches the top code
  std::vector<uint8_t> codes(rows * cols), sc(nbr * nbc);
  ASSERT_TRUE(fp8_blocks_from_values(w.data(), rows, cols, br, bc, codes.data(), sc.data()));
  EXPECT_EQ(sc[0], sc0[0]);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t b = (r / br) * nbc + c / bc;
      EXPECT_EQ(fp8_e4m3_to_f32(codes[r * cols + c]) * ue8m0_to_f32(sc[b]), w[r * cols + c]) << r << "," << c;
    }
  // A value no e4m3 x 2^e grid of its block holds (9 significant bits) is refused.
  w[1] = w[0] * (1.0f + 1.0f / 256);
  EXPECT_FALSE(fp8_blocks_from_values(w.data(), rows, cols, br, bc, codes.data(), sc.data()));
  // So are generic bf16 weights.
  for (float& v : w) v = round_bf16(nd(rng));
  EXPECT_FALSE(fp8_blocks_from_values(w.data(), rows, cols, br, bc, codes.data(), sc.data()));
}


// ggml's MXFP4 rule: kvalues_mxfp4 (code 8 is +0, not -0) times 2^(e-128), e = 255 -> 2^127.
TEST(GgmlQuants, Mxfp4FollowsGgmlTableAndScale) {
  uint8_t blk[17] = {};
  blk[0] = 255;
  blk[1] = 0x87;  // value 0: code 7 (6.0), value 16: code 8
  blk[2] = 0x0F;  // value 1: code 15 (-6.0)
  float y[32];
  ASSERT_TRUE(dequantize_ggml_row(GgmlType::kMXFP4, blk, y, 32));
  EXPECT_TRUE(std::isinf(y[0]));  // 12 * 2^127 overflows, as in ggml
  EXPECT_EQ(y[1], -HUGE_VALF);
  EXPECT_EQ(std::bit_cast<uint32_t>(y[16]), 0u);  // +0
  blk[0] = 0;  // 2^-128: subnormal scale
  ASSERT_TRUE(dequantize_ggml_row(GgmlType::kMXFP4, blk, y, 32));
  EXPECT_EQ(y[0], 12.0f * std::ldexp(1.0f, -128));
  EXPECT_EQ(y[1], -12.0f * std::ldexp(1.0f, -128));
}

// Q4_K by hand: sub-block 5 (j >= 4 packing) of a block, value = d*sc*q - dmin*m.
TEST(GgmlQuants, Q4KScalePackingByHand) {
  std::vector<uint8_t> blk(144, 0);
  const f16 d = f32_to_f16(0.5f), dmin = f32_to_f16(0.25f);
  std::memcpy(blk.data(), &d, 2);
  std::memcpy(blk.data() + 2, &dmin, 2);
  // j = 5: sc = (s[9] & 15) | (s[1] >> 6) << 4, m = (s[9] >> 4) | (s[5] >> 6) << 4.
  blk[4 + 9] = 0x3A;  // sc low 0xA, m low 0x3
  blk[4 + 1] = 0x80;  // sc high bits 2 -> sc = 0x2A = 42
  blk[4 + 5] = 0x40;  // m high bits 1 -> m = 0x13 = 19
  blk[16 + 64 + 7] = 0x90;  // sub-block 5 = high nibbles of bytes 64..95: value 160 + 7 has q = 9
  float y[256];
  ASSERT_TRUE(dequantize_ggml_row(GgmlType::kQ4_K, blk.data(), y, 256));
  EXPECT_EQ(y[160 + 7], 0.5f * 42 * 9 - 0.25f * 19);
  EXPECT_EQ(y[160 + 8], -0.25f * 19);
  EXPECT_EQ(y[128 + 7], 0.0f);  // sub-block 4 (low nibble 0, sc = m = 0)
}

// IQ2_XXS by hand: grid 1 = magnitudes {43, 8, 8, ...} as bytes; 7 sign bits expand with parity.
TEST(GgmlQuants, Iq2XxsGridAndSigns) {
  EXPECT_EQ(ggml_tables::kIq2xxsGrid[1], 0x080808080808082bull);
  for (int i = 0; i < 128; ++i) EXPECT_EQ(ggml_tables::kIq2Signs[i], i | (std::popcount(unsigned(i)) % 2 << 7)) << i;
  std::vector<uint8_t> blk(66, 0);
  const f16 d = f32_to_f16(1.0f);
  std::memcpy(blk.data(), &d, 2);
  const uint32_t aux[2] = {1u, (3u << 28) | 1u};  // group 0: grid 1, sign bit 0 (+ parity bit 7)
  std::memcpy(blk.data() + 2, aux, 8);
  float y[256];
  ASSERT_TRUE(dequantize_ggml_row(GgmlType::kIQ2_XXS, blk.data(), y, 256));
  const float db = 1.0f * (0.5f + 3) * 0.25f;
  EXPECT_EQ(y[0], -db * 43);
  EXPECT_EQ(y[1], db * 8);
  EXPECT_EQ(y[7], -db * 8);
  EXPECT_EQ(y[8], db * 8);  // group 1: grid 0, no signs
}

// Bitwise against llama.cpp's own dequantize_row_* on rows its ggml_quantize_chunk wrote
// (tests/llamacpp/ggml_ref_test.sh builds the fixture and sets DSV4_GGML_REF_FIXTURE).
TEST(GgmlRefParity, DecodersMatchGgmlBitwise) {
  const char* path = std::getenv("DSV4_GGML_REF_FIXTURE");
  if (!path || !*path) GTEST_SKIP() << "DSV4_GGML_REF_FIXTURE not set (tests/llamacpp/ggml_ref_test.sh sets it)";
  std::string err;
  const std::vector<ggml_ref::Record> recs = ggml_ref::read_fixture(path, &err);
  ASSERT_FALSE(recs.empty()) << err;
  std::set<GgmlType> seen;
  for (const ggml_ref::Record& r : recs) {
    seen.insert(r.type);
    SCOPED_TRACE(std::string(ggml_type_name(r.type)));
    ASSERT_TRUE(ggml_type_dequantizable(r.type));
    ASSERT_EQ(static_cast<uint64_t>(r.row_bytes), *ggml_row_bytes(r.type, r.cols));
    std::vector<float> y(static_cast<size_t>(r.cols));
    int64_t bad = 0;
    for (int64_t i = 0; i < r.rows; ++i) {
      ASSERT_TRUE(dequantize_ggml_row(r.type, r.raw.data() + i * r.row_bytes, y.data(), r.cols));
      for (int64_t c = 0; c < r.cols; ++c) {
        const float want = r.values[i * r.cols + c];
        if (std::bit_cast<uint32_t>(y[c]) != std::bit_cast<uint32_t>(want) && bad++ < 5)
          ADD_FAILURE() << "row " << i << " col " << c << ": " << y[c] << " vs ggml " << want;
      }
    }
    EXPECT_EQ(bad, 0);
  }
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ2_K, GgmlType::kIQ2_XXS,
                     GgmlType::kMXFP4, GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1})
    EXPECT_TRUE(seen.count(t)) << "fixture lacks " << ggml_type_name(t);
}

}  // namespace
}  // namespace dsv4

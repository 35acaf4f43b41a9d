// Packed KV rows: every row the model can store (FP8-simulated main rows, FP4-simulated indexer
// keys) unpacks to exactly the values packed, including the blocks whose stored amax sits on the
// boundary where the recomputed scale halves, zeros, values under the amax floor and -0.
#include "model/kv_pack.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/bf16.h"
#include "tensor/quant.h"

namespace dsv4::model {
namespace {

ModelConfig dims(int head_dim, int rope) {
  ModelConfig c;
  c.head_dim = head_dim;
  c.qk_rope_head_dim = rope;
  return c;
}

// A row as the model stores it: the nope part through fp8_roundtrip, then everything bf16.
std::vector<float> model_row(std::mt19937& rng, int nope, int rope, int kind) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> r(static_cast<size_t>(nope + rope));
  for (auto& v : r) v = g(rng) * std::exp2(static_cast<float>(static_cast<int>(rng() % 20) - 10));
  for (int b = 0; b < nope; b += 64) {
    if (kind == 1) std::fill_n(&r[b], 64, 0.0f);                   // zeros
    if (kind == 2) for (int i = 0; i < 64; ++i) r[b + i] *= 1e-7f; // under the 1e-4 amax floor
    if (kind == 3) {  // amax just over 224 x scale: quantizes to 224 x s, the stored scale halves
      for (int i = 0; i < 64; ++i) r[b + i] = std::clamp(r[b + i], -1.0f, 1.0f);
      r[b] = 230.0f / 448.0f;
    }
    if (kind == 4) r[b + 3] = -0.0f;
  }
  fp8_roundtrip(r.data(), static_cast<size_t>(nope), 64);
  for (auto& v : r) v = round_bf16(v);
  return r;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return false;
  return true;
}

TEST(KvPack, MainRowsRoundTripBitwise) {
  std::mt19937 rng(5);
  for (auto [D, R] : {std::pair{128, 64}, std::pair{512, 64}, std::pair{192, 64}}) {
    const MainRowFormat f = MainRowFormat::of(dims(D, R));
    EXPECT_EQ(f.nope, D - R);
    EXPECT_EQ(f.bytes % 8, 0);
    EXPECT_LT(f.bytes, int64_t{D} * 2);
    std::vector<uint8_t> packed(static_cast<size_t>(f.bytes));
    for (int trial = 0; trial < 200; ++trial) {
      const auto row = model_row(rng, f.nope, f.rope, trial % 5);
      pack_main_row(f, row.data(), packed.data());
      std::vector<float> back(row.size());
      unpack_main_row(f, packed.data(), back.data());
      ASSERT_TRUE(same_bits(row, back)) << "D " << D << " trial " << trial;
    }
  }
  EXPECT_EQ(MainRowFormat::of(dims(512, 64)).bytes, 584);  // V4-Flash / Pro: 64x2 + 448 + 7 -> 584
}

TEST(KvPack, IndexKeysRoundTripBitwise) {
  std::mt19937 rng(6);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (int dim : {64, 128}) {
    const IndexKeyFormat f = IndexKeyFormat::of(dim);
    EXPECT_EQ(f.bytes, dim / 2 + dim / 32);
    std::vector<uint8_t> packed(static_cast<size_t>(f.bytes));
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<float> key(static_cast<size_t>(dim));
      for (auto& v : key) v = g(rng) * std::exp2(static_cast<float>(static_cast<int>(rng() % 30) - 15));
      if (trial % 4 == 1) std::fill(key.begin(), key.begin() + 32, 0.0f);
      if (trial % 4 == 2) key[0] = 3.2f * std::fabs(key[1]) + 1.0f;  // amax/s in (3, 3.5): stored 3s
      if (trial % 4 == 3) key[5] = -0.0f;
      fp4_roundtrip(key.data(), key.size(), 32);
      pack_index_key(f, key.data(), packed.data());
      std::vector<float> back(key.size());
      unpack_index_key(f, packed.data(), back.data());
      ASSERT_TRUE(same_bits(key, back)) << "dim " << dim << " trial " << trial;
      std::vector<bf16> as_bf16(key.size());
      unpack_index_key(f, packed.data(), as_bf16.data());
      for (size_t i = 0; i < key.size(); ++i) ASSERT_EQ(std::bit_cast<uint32_t>(bf16_to_f32(as_bf16[i])), std::bit_cast<uint32_t>(key[i]));
    }
  }
}

}  // namespace
}  // namespace dsv4::model

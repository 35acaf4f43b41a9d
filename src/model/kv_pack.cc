#include "model/kv_pack.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstring>

#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/quant.h"

namespace dsv4::model {
namespace {

constexpr int kMainBlock = 64, kKeyBlock = 32;

// The reference's scale exponent for a block whose values are already quantized: the same rule
// (amax clamped below, fp32-bit ceil) applied to the block as stored.
int block_exponent(const float* x, int n, float floor, float inv_qmax) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return ue8m0_ceil_exponent(std::max(amax, floor), inv_qmax);
}

uint8_t ue8m0_byte(int e) { return static_cast<uint8_t>(e + 127); }

}  // namespace

MainRowFormat MainRowFormat::of(const ModelConfig& c) {
  MainRowFormat f;
  f.rope = c.qk_rope_head_dim;
  f.nope = c.head_dim - c.qk_rope_head_dim;
  f.bytes = (int64_t{2} * f.rope + f.nope + f.nope / kMainBlock + 7) / 8 * 8;
  return f;
}

IndexKeyFormat IndexKeyFormat::of(int index_head_dim) {
  IndexKeyFormat f;
  f.dim = index_head_dim;
  f.bytes = index_head_dim > 0 ? int64_t{index_head_dim} / 2 + index_head_dim / kKeyBlock : 0;
  return f;
}

void pack_main_row(const MainRowFormat& f, const float* row, uint8_t* out) {
  assert(f.nope % kMainBlock == 0);
  std::memset(out, 0, static_cast<size_t>(f.bytes));
  auto* rope = reinterpret_cast<bf16*>(out);
  for (int i = 0; i < f.rope; ++i) rope[i] = f32_to_bf16(row[f.nope + i]);
  uint8_t* codes = out + 2 * f.rope;
  uint8_t* scales = codes + f.nope;
  for (int b = 0; b < f.nope / kMainBlock; ++b) {
    const float* x = row + b * kMainBlock;
    const int e = block_exponent(x, kMainBlock, kFp8AmaxFloor, 1.0f / kFp8Max);
    const float inv = pow2f(-e);  // exact: x / 2^e
    scales[b] = ue8m0_byte(e);
    for (int i = 0; i < kMainBlock; ++i) codes[b * kMainBlock + i] = f32_to_fp8_e4m3(x[i] * inv);
  }
}

void unpack_main_row(const MainRowFormat& f, const uint8_t* in, float* row) {
  const float* table = fp8_e4m3_table();
  const auto* rope = reinterpret_cast<const bf16*>(in);
  const uint8_t* codes = in + 2 * f.rope;
  const uint8_t* scales = codes + f.nope;
  for (int b = 0; b < f.nope / kMainBlock; ++b) {
    const float s = ue8m0_to_f32(scales[b]);
    for (int i = 0; i < kMainBlock; ++i) row[b * kMainBlock + i] = table[codes[b * kMainBlock + i]] * s;
  }
  for (int i = 0; i < f.rope; ++i) row[f.nope + i] = bf16_to_f32(rope[i]);
}

void pack_index_key(const IndexKeyFormat& f, const float* key, uint8_t* out) {
  assert(f.dim % kKeyBlock == 0);
  uint8_t* scales = out + f.dim / 2;
  for (int b = 0; b < f.dim / kKeyBlock; ++b) {
    const float* x = key + b * kKeyBlock;
    const int e = block_exponent(x, kKeyBlock, kFp4AmaxFloor, 1.0f / kFp4Max);
    const float inv = pow2f(-e);
    scales[b] = ue8m0_byte(e);
    for (int i = 0; i < kKeyBlock; i += 2)
      out[(b * kKeyBlock + i) / 2] =
          static_cast<uint8_t>(f32_to_fp4_e2m1(x[i] * inv) | (f32_to_fp4_e2m1(x[i + 1] * inv) << 4));
  }
}

// Both e2m1 values of every byte (low nibble first), decoded once.
const std::array<std::array<float, 2>, 256>& e2m1_pairs() {
  static const auto table = [] {
    std::array<std::array<float, 2>, 256> t{};
    for (int b = 0; b < 256; ++b) t[b] = {fp4_e2m1_to_f32(static_cast<uint8_t>(b & 0xf)), fp4_e2m1_to_f32(static_cast<uint8_t>(b >> 4))};
    return t;
  }();
  return table;
}

void unpack_index_key(const IndexKeyFormat& f, const uint8_t* in, float* key) {
  // (Scoring a long context unpacks every key once per query: one table load and two exact
  // products per byte.)
  const auto& pairs = e2m1_pairs();
  const uint8_t* scales = in + f.dim / 2;
  for (int b = 0; b < f.dim / kKeyBlock; ++b) {
    const float s = ue8m0_to_f32(scales[b]);
    const uint8_t* codes = in + b * (kKeyBlock / 2);
    float* out = key + b * kKeyBlock;
    for (int i = 0; i < kKeyBlock / 2; ++i) {
      out[2 * i] = pairs[codes[i]][0] * s;
      out[2 * i + 1] = pairs[codes[i]][1] * s;
    }
  }
}

void unpack_index_key(const IndexKeyFormat& f, const uint8_t* in, bf16* key) {
  const uint8_t* scales = in + f.dim / 2;
  for (int i = 0; i < f.dim; i += 2) {
    const float s = ue8m0_to_f32(scales[i / kKeyBlock]);
    key[i] = f32_to_bf16(fp4_e2m1_to_f32(in[i / 2] & 0xf) * s);
    key[i + 1] = f32_to_bf16(fp4_e2m1_to_f32(in[i / 2] >> 4) * s);
  }
}

}  // namespace dsv4::model

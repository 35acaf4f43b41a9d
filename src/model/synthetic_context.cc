#include "model/synthetic_context.h"

#include <cassert>
#include <cstring>
#include <random>
#include <vector>

#include "model/kv_pack.h"
#include "tensor/quant.h"

namespace dsv4::model {
namespace {

// A pool of distinct valid packed rows, appended cyclically (drawing every row afresh would make
// a 1M-token fill take minutes; what decode costs does not depend on the values).
constexpr int kPoolRows = 1024;

std::vector<uint8_t> main_pool(const ModelConfig& cfg, std::mt19937& rng) {
  const MainRowFormat f = MainRowFormat::of(cfg);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<uint8_t> pool(static_cast<size_t>(kPoolRows * f.bytes));
  std::vector<float> row(static_cast<size_t>(cfg.head_dim));
  for (int r = 0; r < kPoolRows; ++r) {
    for (auto& v : row) v = g(rng);
    fp8_roundtrip(row.data(), static_cast<size_t>(f.nope), 64);
    pack_main_row(f, row.data(), &pool[static_cast<size_t>(r * f.bytes)]);
  }
  return pool;
}

std::vector<uint8_t> key_pool(int dim, std::mt19937& rng) {
  const IndexKeyFormat f = IndexKeyFormat::of(dim);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<uint8_t> pool(static_cast<size_t>(kPoolRows * f.bytes));
  std::vector<float> key(static_cast<size_t>(dim));
  for (int r = 0; r < kPoolRows; ++r) {
    for (auto& v : key) v = g(rng);
    fp4_roundtrip(key.data(), key.size(), 32);
    pack_index_key(f, key.data(), &pool[static_cast<size_t>(r * f.bytes)]);
  }
  return pool;
}

void grow(RowStore& rows, int64_t want, const std::vector<uint8_t>& pool, std::mt19937& rng) {
  const size_t w = static_cast<size_t>(rows.width());
  while (rows.rows() < want) std::memcpy(rows.append(), &pool[(rng() % kPoolRows) * w], w);
}

void fill_layer(const ModelConfig& cfg, LayerState& st, int64_t pos, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (auto& v : st.ring) v = f32_to_bf16(g(rng));
  if (st.compressor.ratio > 0) grow(st.compressed, pos / st.compressor.ratio, main_pool(cfg, rng), rng);
  if (st.idx_compressor.ratio > 0)
    grow(st.index_keys, pos / st.idx_compressor.ratio, key_pool(st.idx_compressor.head_dim, rng), rng);
}

}  // namespace

void fill_synthetic_context(const ModelConfig& cfg, Sequence& seq, int64_t pos, uint64_t seed) {
  assert(seq.pos <= pos);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  for (auto& st : seq.layers) fill_layer(cfg, st, pos, rng);
  for (auto& st : seq.mtp) fill_layer(cfg, st, pos, rng);
  seq.pos = pos;
  seq.mtp_pos = pos;
}

}  // namespace dsv4::model

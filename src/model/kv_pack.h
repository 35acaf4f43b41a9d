// Packed storage of the compressed KV rows and indexer keys (spec §3.1): exactly the values the
// reference's quantization points leave in its bf16 cache, in a quarter to a half of the bytes.
//   main row  [rope bf16 x R][nope e4m3 x N][N/64 UE8M0 scales][pad to 8 bytes]
//   index key [K/2 bytes of e2m1 pairs (low nibble first)][K/32 UE8M0 scales]
// Every compressed main row has had its non-RoPE part through fp8_roundtrip(., 64) and every
// indexer key through fp4_roundtrip(., 32), so each block is e4m3 (e2m1) codes times a power of
// two: packing recomputes that scale from the block's own amax (the reference's rule) and the
// codes from value / scale, which unpack to the same values bit for bit (kv_pack_test proves it
// over random blocks and the golden models' rows).
#pragma once
#include <cstdint>

#include "io/config.h"
#include "tensor/bf16.h"

namespace dsv4::model {

struct MainRowFormat {
  int nope = 0, rope = 0;  // values: head_dim - rope, rope
  int64_t bytes = 0;       // one packed row
  static MainRowFormat of(const ModelConfig& c);
};

struct IndexKeyFormat {
  int dim = 0;
  int64_t bytes = 0;
  static IndexKeyFormat of(int index_head_dim);
};

// row: [nope | rope] as the model computes it (fp32 values already FP8-exact in the nope part).
void pack_main_row(const MainRowFormat& f, const float* row, uint8_t* out);
void unpack_main_row(const MainRowFormat& f, const uint8_t* in, float* row);
void pack_index_key(const IndexKeyFormat& f, const float* key, uint8_t* out);
void unpack_index_key(const IndexKeyFormat& f, const uint8_t* in, float* key);
void unpack_index_key(const IndexKeyFormat& f, const uint8_t* in, bf16* key);

}  // namespace dsv4::model

// Per-sequence state of one layer (spec §2.6, §2.7, §3.1): the sliding-window ring of raw KV rows,
// the compressed KV entries, the indexer keys, and the compressors' streaming fp32 state.
// Rows are stored as bf16: every value the reference caches is bf16 (post-RoPE, post-simulation).
// The compressed rows and indexer keys are append-only and shared between copies (row_store.h).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstddef>
#include <limits>
#include <vector>

#include "model/row_store.h"
#include "tensor/bf16.h"

namespace dsv4::model {

struct CompressorState {
  int ratio = 0;       // m
  int head_dim = 0;    // Dc
  int rows = 0;        // c*m (2m in overlap mode)
  int width = 0;       // c*Dc
  std::vector<float> kv;     // [rows, width]
  std::vector<float> score;  // [rows, width], already includes ape

  void init(int ratio_, int head_dim_, bool overlap) {
    ratio = ratio_;
    head_dim = head_dim_;
    rows = (overlap ? 2 : 1) * ratio_;
    width = (overlap ? 2 : 1) * head_dim_;
    kv.assign(static_cast<size_t>(rows) * width, 0.0f);
    score.assign(static_cast<size_t>(rows) * width, -std::numeric_limits<float>::infinity());
  }
  void reset_rows(int r0, int r1) {  // back to the fresh values 0 / -inf
    for (int r = r0; r < r1; ++r)
      for (int c = 0; c < width; ++c) {
        kv[static_cast<size_t>(r) * width + c] = 0.0f;
        score[static_cast<size_t>(r) * width + c] = -std::numeric_limits<float>::infinity();
      }
  }
};

struct LayerState {
  int window = 0;                 // W
  int head_dim = 0;               // D
  std::vector<bf16> ring;         // [W, D], row = position mod W
  RowStore compressed;            // [rows, D], entry j covers positions [j*m, (j+1)*m)
  CompressorState compressor;     // main compressor (m > 0)
  CompressorState idx_compressor; // indexer compressor (m == 4)
  RowStore index_keys;            // [rows, index_head_dim]
};

}  // namespace dsv4::model

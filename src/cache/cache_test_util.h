// Shared helpers of the cache tests: snapshots made by the engine on the golden checkpoints, and
// a bitwise comparison of two snapshots.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "engine/engine_test_util.h"

namespace dsv4::cache::testing {

using engine::testing::collect;
using engine::testing::golden_model;
using engine::testing::greedy;
using engine::testing::random_tokens;
using engine::testing::same_bits;

// Snapshots of `prompt` after `at` tokens (ascending), taken by the engine.
inline std::vector<std::shared_ptr<const engine::Snapshot>> snapshots_of(const model::Model& m,
                                                                         const std::vector<int32_t>& prompt,
                                                                         std::vector<int64_t> at) {
  engine::EngineOptions o;
  o.speculative = 0;
  engine::Engine e(m, nullptr, o);
  engine::Request r = greedy(prompt, 1);
  r.snapshot_at = std::move(at);
  return collect(*e.submit(r)).snapshots;
}

inline bool same_layer(const model::LayerState& a, const model::LayerState& b) {
  auto bits = [](const auto& x, const auto& y) {
    return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(x[0])) == 0);
  };
  auto comp = [&](const model::CompressorState& x, const model::CompressorState& y) {
    return x.ratio == y.ratio && x.head_dim == y.head_dim && x.rows == y.rows && x.width == y.width && bits(x.kv, y.kv) &&
           bits(x.score, y.score);
  };
  return a.window == b.window && a.head_dim == b.head_dim && bits(a.ring, b.ring) && model::same_rows(a.compressed, b.compressed) && comp(a.compressor, b.compressor) && comp(a.idx_compressor, b.idx_compressor) &&
         model::same_rows(a.index_keys, b.index_keys);
}

inline bool same_snapshot(const engine::Snapshot& a, const engine::Snapshot& b) {
  if (a.tokens != b.tokens || a.seq.pos != b.seq.pos || a.seq.mtp_pos != b.seq.mtp_pos) return false;
  if (a.seq.layers.size() != b.seq.layers.size() || a.seq.mtp.size() != b.seq.mtp.size()) return false;
  for (size_t i = 0; i < a.seq.layers.size(); ++i)
    if (!same_layer(a.seq.layers[i], b.seq.layers[i])) return false;
  for (size_t i = 0; i < a.seq.mtp.size(); ++i)
    if (!same_layer(a.seq.mtp[i], b.seq.mtp[i])) return false;
  return same_bits(a.last_logits, b.last_logits) && same_bits(a.last_state, b.last_state) &&
         a.fixed_bytes == b.fixed_bytes && a.growing_bytes == b.growing_bytes;
}

// A fresh, empty directory under the build tree, removed by the destructor.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& name) {
    path = std::string(DSV4_BINARY_DIR) + "/test-tmp/" + name + "-" + std::to_string(::getpid());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace dsv4::cache::testing

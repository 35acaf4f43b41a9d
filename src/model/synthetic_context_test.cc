// The benchmarks' synthetic context: a sequence grown without running the model holds exactly the
// rows a real sequence of that length holds, and the model decodes from it.
#include "model/synthetic_context.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/rss.h"
#include "model/golden_models.h"
#include "model/memory_plan.h"
#include "model/sequence_state.h"

namespace dsv4::model {
namespace {

TEST(SyntheticContext, HoldsTheRowsOfARealSequenceAndDecodes) {
  const Model& m = testing::golden_model("tiny-flash");
  const ModelConfig& c = m.config();
  Sequence seq = m.new_sequence();
  const auto toks = testing::random_tokens(10, static_cast<int>(c.vocab_size), 3);
  ASSERT_TRUE(m.forward(seq, toks, 1).ok());
  fill_synthetic_context(c, seq, 5000, 1);
  EXPECT_EQ(seq.pos, 5000);
  EXPECT_EQ(state_bytes(seq).growing, static_cast<size_t>(sequence_bytes(c, 5000).kv));
  for (size_t i = 0; i < seq.layers.size(); ++i) {
    const LayerState& st = seq.layers[i];
    if (st.compressor.ratio > 0) EXPECT_EQ(st.compressed.rows(), 5000 / st.compressor.ratio) << "layer " << i;
  }
  const int32_t next[1] = {5};
  auto logits = m.forward(seq, next, 1);
  ASSERT_TRUE(logits.ok()) << logits.message();
  EXPECT_EQ(seq.pos, 5001);
  for (float v : *logits) ASSERT_TRUE(std::isfinite(v));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // shadow memory and quarantines make RSS meaningless
#else
constexpr bool kSanitized = false;
#endif

// What a sequence really holds in RAM follows the planner's formula: 1M tokens of tiny-flash's
// packed rows (143.8 MB) raise the resident set by that much, within the growth slack.
TEST(SyntheticContext, ResidentMemoryFollowsThePackedFormula) {
  if (kSanitized) GTEST_SKIP() << "resident memory is not the program's under a sanitizer";
  const Model& m = testing::golden_model("tiny-flash");
  const ModelConfig& c = m.config();
  constexpr int64_t k1M = 1048576;
  Sequence seq = m.new_sequence();
  release_free_heap();
  const int64_t before = resident_bytes();
  if (before == 0) GTEST_SKIP() << "no /proc/self/statm";
  fill_synthetic_context(c, seq, k1M, 2);
  release_free_heap();
  const int64_t grew = resident_bytes() - before;
  const int64_t kv = sequence_bytes(c, k1M).kv;
  EXPECT_EQ(state_bytes(seq).growing, static_cast<size_t>(kv));
  EXPECT_GE(grew, kv * 97 / 100) << "resident growth " << grew << " B for " << kv << " B of rows";
  EXPECT_LE(grew, kv + kv / 8 + (8 << 20)) << "resident growth " << grew << " B for " << kv << " B of rows";
  std::printf("tiny-flash at 1M tokens: packed rows %lld B, resident +%lld B (%.4f)\n", static_cast<long long>(kv),
              static_cast<long long>(grew), static_cast<double>(grew) / static_cast<double>(kv));
}

}  // namespace
}  // namespace dsv4::model

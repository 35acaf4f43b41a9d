// The benchmarks' synthetic context: a sequence grown without running the model holds exactly the
// rows a real sequence of that length holds, and the model decodes from it.
#include "model/synthetic_context.h"

#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
}  // namespace dsv4::model

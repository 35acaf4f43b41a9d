#include "model/memory_plan.h"

#include <gtest/gtest.h>

#include "model/golden_models.h"
#include "model/sequence_state.h"
#include "model/schema_summary.h"

namespace dsv4 {
namespace {

// configs/NAME of the checkout (the real V4 configs, no weights).
ModelConfig repo_config(const char* name) {
  auto c = load_model_config(std::string(DSV4_SOURCE_DIR) + "/configs/" + name);
  EXPECT_TRUE(c.ok()) << c.message();
  return c.ok() ? *c : ModelConfig{};
}
const ModelConfig& tiny_flash() { return model::testing::golden_model("tiny-flash").config(); }

constexpr int64_t k1M = 1048576;

// tiny-flash (config.json): 6 layers + MTP, ratios 0 0 4 128 4 128 | 0, W 16, D 128, rope 64,
// index_head_dim 128, H 8, o_lora 64.
TEST(MemoryPlan, TinyFlashByHand) {
  const ModelConfig& c = tiny_flash();
  const SequenceBytes s = sequence_bytes(c, 129);
  EXPECT_EQ(s.ring, 7 * 16 * 128 * 2);  // 28,672
  // CSA (layers 2, 4): main 2 x (8 rows x 256) fp32 + indexer 2 x (8 x 256) fp32 = 32,768;
  // HCA (3, 5): 2 x (128 x 128) fp32 = 131,072.
  EXPECT_EQ(s.compressor, 2 * 32768 + 2 * 131072);
  EXPECT_EQ(s.fixed(), 356352);  // README: tiny-flash 356,352 fixed bytes
  // Rows are packed (kv_pack.h): main rows 64 bf16 rope + 64 FP8 + 1 scale = 193 -> 200 B;
  // indexer keys 64 B of FP4 pairs + 4 scales = 68 B.
  EXPECT_EQ(packed_main_row_bytes(c), 200);
  EXPECT_EQ(packed_index_row_bytes(c), 68);
  // 129 tokens: CSA 32 rows x (200 + 68) = 8,576 each; HCA 1 row x 200.
  EXPECT_EQ(s.kv, 2 * 8576 + 2 * 200);  // 17,552 bytes at position 129
  EXPECT_EQ(sequence_bytes(c, 3).kv, 0);
  EXPECT_EQ(sequence_bytes(c, 4).kv, 2 * 268);

  // 1M tokens: CSA 262,144 rows x 268 B, HCA 8,192 rows x 200 B.
  EXPECT_EQ(sequence_bytes(c, k1M).kv, 2 * 262144 * 268 + 2 * 8192 * 200);  // 143,785,984
  EXPECT_EQ(speculative_mark_bytes(c), 6 * 16 * 128 * 2 + 2 * 32768 + 2 * 131072);

  const KvComparison k = kv_comparison(c, k1M);
  EXPECT_EQ(k.layers, 6);
  EXPECT_EQ(k.v4_bf16, 2 * 262144 * 512 + 2 * 8192 * 256);  // the reference's bf16 rows: 272,629,760
  EXPECT_EQ(k.v4_packed, 143785984);
  EXPECT_EQ(k.mla_bf16, 6 * k1M * 1152);
  EXPECT_EQ(k.v32_bf16, 6 * k1M * 1408);
  EXPECT_EQ(k.v32_fp8, 6 * k1M * 788);

  MemoryPlanInput in;
  in.ctx = k1M;
  in.parallel = 2;
  in.step_tokens = 256;
  in.checkpoint_bytes = 9773600;
  in.prefix_cache_bytes = 1000;
  const MemoryPlan p = plan_memory(c, in);
  EXPECT_EQ(p.weights_mapped, 9773600);
  EXPECT_EQ(p.mark, speculative_mark_bytes(c));
  // Slack: 1/8 of the rows + 16 rows per row store (2 CSA x (200 + 68) B, 2 HCA x 200 B).
  EXPECT_EQ(p.growth_slack, 143785984 / 8 + 16 * (2 * 268 + 2 * 200));
  EXPECT_EQ(p.per_sequence, 356352 + 143785984 + p.mark + p.growth_slack);
  EXPECT_EQ(p.sequences, 2 * p.per_sequence);
  EXPECT_EQ(p.total, p.weights_mapped + p.sequences + p.activations + p.attention_scratch + 1000);
  // Attention scratch: 262,144 indexer keys x (score + order) 8 B; 64 threads' chunks of 512 keys
  // x (128 floats + 4 head dots + a total); candidates (16 + 8192) x (128 floats + mask + 8
  // head scores); one block of 64 rows of 200 B being grown (old and new).
  EXPECT_EQ(p.attention_scratch, 262144 * 8 + 32768 * (512 + 16 + 4) + (16 + 8192) * (512 + 1 + 32) + 2 * 64 * 200);
  MemoryPlanInput no_spec = in;
  no_spec.speculative = false;
  EXPECT_EQ(plan_memory(c, no_spec).mark, 0);
  // The schema's tensor bytes stand in for a checkpoint's.
  in.checkpoint_bytes = -1;
  EXPECT_GT(plan_memory(c, in).weights_mapped, 0);
}

// The plan's sequence figures are what a real Sequence holds, and the rows' capacity stays inside
// the planned slack.
TEST(MemoryPlan, MatchesSequenceState) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const model::Model& m = model::testing::golden_model(name);
    const ModelConfig& c = m.config();
    model::Sequence seq = m.new_sequence();
    const auto toks = model::testing::random_tokens(600, static_cast<int>(c.vocab_size), 7);
    for (size_t i = 0; i < toks.size(); i += 100) {
      ASSERT_TRUE(m.forward(seq, std::span<const int32_t>(toks).subspan(i, 100), 1).ok());
      const auto b = model::state_bytes(seq);
      const SequenceBytes s = sequence_bytes(c, seq.pos);
      EXPECT_EQ(b.fixed, static_cast<size_t>(s.fixed())) << name;
      EXPECT_EQ(b.growing, static_cast<size_t>(s.kv)) << name << " at " << seq.pos;
      MemoryPlanInput in;
      in.ctx = seq.pos;
      in.checkpoint_bytes = 0;
      const MemoryPlan p = plan_memory(c, in);
      size_t cap = 0;
      for (const auto& st : seq.layers) cap += st.compressed.bytes_reserved() + st.index_keys.bytes_reserved();
      EXPECT_LE(cap, static_cast<size_t>(s.kv + p.growth_slack)) << name << " at " << seq.pos;
    }
  }
}

TEST(MemoryPlan, RealConfigs) {
  const ModelConfig f = repo_config("v4-flash.json");
  const KvComparison kf = kv_comparison(f, k1M);
  EXPECT_EQ(kf.v4_bf16, 6880 * k1M);                                        // spec §3.2: 6.72 GiB
  EXPECT_EQ(kf.v4_packed, static_cast<int64_t>(kv_cache_size(f).packed_bytes_per_token * k1M));  // 3514.25 B/token
  EXPECT_EQ(kf.layers, 43);
  EXPECT_EQ(sequence_bytes(f, 0).ring, 44 * 128 * 512 * 2);
  const ModelConfig p = repo_config("v4-pro.json");
  const KvComparison kp = kv_comparison(p, k1M);
  EXPECT_EQ(kp.v4_bf16, 9848 * k1M);                                        // 9.62 GiB
  EXPECT_EQ(kp.v32_fp8, 61 * 788 * k1M);                                    // 48,068 B/token
  // Spec §3.2: Pro packed vs V3.2 FP8 = 10.5 % (the "10 %" claim); bf16 vs bf16 11.5 %.
  EXPECT_NEAR(static_cast<double>(kp.v4_packed) / kp.v32_fp8, 0.105, 0.001);
  EXPECT_NEAR(static_cast<double>(kp.v4_bf16) / kp.v32_bf16, 0.115, 0.001);
}

TEST(MemoryPlan, LargestThatFits) {
  const ModelConfig& c = tiny_flash();
  MemoryPlanInput in;
  in.ctx = 65536;
  in.parallel = 4;
  const MemoryPlan p = plan_memory(c, in);
  const int64_t best = largest_ctx_within(c, in, p.total);
  EXPECT_GE(best, 65536);
  in.ctx = best;
  EXPECT_LE(plan_memory(c, in).total, p.total);
  if (best < c.max_position_embeddings) {
    in.ctx = best + 1;
    EXPECT_GT(plan_memory(c, in).total, p.total);
  }
  in.ctx = 65536;
  EXPECT_EQ(largest_parallel_within(c, in, p.total, 256), 4);
  EXPECT_EQ(largest_parallel_within(c, in, p.total - 1, 256), 3);
  EXPECT_EQ(largest_ctx_within(c, in, 1000), 0);
  EXPECT_EQ(largest_parallel_within(c, in, 1000, 256), 0);
  EXPECT_EQ(request_state_bytes(c, 129, 3, false), 3 * plan_memory(c, [&] {
                                                      MemoryPlanInput i;
                                                      i.ctx = 129;
                                                      i.speculative = false;
                                                      i.checkpoint_bytes = 0;
                                                      return i;
                                                    }()).per_sequence);
}

}  // namespace
}  // namespace dsv4

// The optimizers, the training loop's determinism and resume, and a short run whose loss falls.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "train/optim.h"
#include "train/train_test_util.h"
#include "train/trainer.h"

namespace dsv4::train {
namespace {

using testing::tiny_config;

// A learnable stream: token t+1 = (3 t + 1 + noise) mod V (noise in {0, 1} from a fixed generator), so
// the best next-token loss is ln 2 and a unigram model's ~ln V.
std::vector<int32_t> pattern_tokens(int64_t n, int vocab, uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<int32_t> t(n);
  t[0] = 5;
  for (int64_t i = 1; i < n; ++i) t[i] = static_cast<int32_t>((3 * t[i - 1] + 1 + (r.next() & 1)) % vocab);
  return t;
}

TrainOptions small_options(int64_t steps) {
  TrainOptions o;
  o.steps = steps;
  o.batch = 4;
  o.seq = 16;
  o.seed = 7;
  o.optim.lr = 0.01;
  o.optim.warmup = 5;
  o.optim.total_steps = steps;
  o.eval_tokens = 256;
  return o;
}

TEST(Muon, NewtonSchulzOrthogonalizes) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{48, 20}, {20, 48}, {32, 32}}) {
    SplitMix64 r(rows * 100 + cols);
    std::vector<float> g(rows * cols);
    for (float& v : g) v = static_cast<float>(r.normal());
    newton_schulz(g.data(), rows, cols, 5);
    // The Gram matrix of the short side is near the identity: Muon's quintic leaves singular
    // values in about [0.68, 1.13].
    const bool tall = rows > cols;
    const int64_t s = tall ? cols : rows, l = tall ? rows : cols;
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < l; ++k)
          dot += tall ? double(g[k * cols + i]) * g[k * cols + j] : double(g[i * cols + k]) * g[j * cols + k];
        if (i == j) {
          EXPECT_GT(dot, 0.4) << rows << "x" << cols;
          EXPECT_LT(dot, 1.35) << rows << "x" << cols;
        } else {
          EXPECT_LT(std::fabs(dot), 0.35) << rows << "x" << cols << " " << i << "," << j;
        }
      }
  }
}

TEST(Optimizer, ScheduleWarmsUpThenDecaysToTheFloor) {
  Params<float> ps(tiny_config());
  OptimConfig c;
  c.lr = 1.0;
  c.warmup = 10;
  c.total_steps = 110;
  c.min_lr_ratio = 0.1;
  Optimizer opt(ps, c);
  EXPECT_NEAR(opt.lr_at(0), 0.1, 1e-12);
  EXPECT_NEAR(opt.lr_at(9), 1.0, 1e-12);
  EXPECT_NEAR(opt.lr_at(60), 0.55, 1e-9);  // halfway through the cosine
  EXPECT_NEAR(opt.lr_at(110), 0.1, 1e-12);
}

TEST(Optimizer, AdamWStepMatchesTheFormula) {
  Params<float> ps(tiny_config());
  ps.init_random(1);
  OptimConfig c;
  c.lr = 0.01;
  c.warmup = 1;
  c.clip = 0;
  Optimizer opt(ps, c);
  ps.zero_grad();
  const ParamEntry* e = ps.find("attn_norm.weight") ? ps.find("attn_norm.weight") : ps.find("layers.0.attn_norm.weight");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->group, ParamGroup::kAdamW);
  const float w0 = ps.values[e->offset];
  ps.grads[e->offset] = 0.5f;
  opt.step(ps, 0);
  // First step: m^ = g, v^ = g^2, so the update is lr * g / (|g| + eps) = lr (no decay on vectors).
  EXPECT_NEAR(ps.values[e->offset], w0 - 0.01f, 1e-6);
  EXPECT_EQ(ps.values[e->offset + 1], 1.0f);  // zero gradient, zero moments: unchanged
}

TEST(Trainer, RunsAreDeterministicAndResumeBitForBit) {
  const ModelConfig c = tiny_config();
  const std::vector<int32_t> tokens = pattern_tokens(4000, c.vocab_size, 1);
  const TrainOptions o = small_options(6);
  Params<float> a(c), b(c), r(c);
  a.init_random(o.seed);
  b.init_random(o.seed);
  r.init_random(99);  // overwritten by the state file
  Trainer ta(a, o, tokens, {});
  for (int i = 0; i < 6; ++i) ta.train_step();
  Trainer tb(b, o, tokens, {});
  for (int i = 0; i < 3; ++i) tb.train_step();
  const std::string path = ::testing::TempDir() + "/dsv4_train_state.bin";
  ASSERT_TRUE(tb.save_state(path).ok());
  Trainer tr(r, o, tokens, {});
  const Status s = tr.load_state(path);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(tr.step(), 3);
  for (int i = 0; i < 3; ++i) tr.train_step();
  EXPECT_EQ(a.values, r.values);  // bitwise
  for (int i = 0; i < 3; ++i) tb.train_step();
  EXPECT_EQ(a.values, b.values);  // and the same as continuing in memory

  // A corrupt byte and another model's state are refused with a message, leaving the params alone.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  const std::vector<float> before = r.values;
  Status bad = tr.load_state(path);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("checksum"), std::string::npos) << bad.message();
  EXPECT_EQ(r.values, before);
  ASSERT_TRUE(tb.save_state(path).ok());
  Params<float> other(tiny_config(64));
  Trainer to(other, o, tokens, {});
  bad = to.load_state(path);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("different model"), std::string::npos) << bad.message();
  EXPECT_FALSE(tr.load_state(path + ".missing").ok());
  std::filesystem::remove(path);
}

TEST(Trainer, LossFallsOnALearnableStream) {
  const ModelConfig c = tiny_config();
  const std::vector<int32_t> tokens = pattern_tokens(20000, c.vocab_size, 2);
  const std::vector<int32_t> held = pattern_tokens(2000, c.vocab_size, 3);
  const TrainOptions o = small_options(80);
  Params<float> ps(c);
  ps.init_random(o.seed);
  Trainer t(ps, o, tokens, held);
  const double before = t.heldout_loss();
  StepLog first, last;
  for (int i = 0; i < o.steps; ++i) {
    last = t.train_step();
    if (i == 0) first = last;
  }
  const double after = t.heldout_loss();
  std::printf("tiny run: held-out %.3f -> %.3f nats (ln V = %.3f, best ln 2 = 0.693); train main %.3f -> %.3f\n",
              before, after, std::log(double(c.vocab_size)), first.main, last.main);
  EXPECT_NEAR(before, std::log(double(c.vocab_size)), 0.6);
  EXPECT_LT(after, 1.6);  // far below the unigram's ~ln 48 = 3.9
  EXPECT_LT(last.main, first.main - 1.5);
  EXPECT_GT(last.mtp, 0.0);
}

}  // namespace
}  // namespace dsv4::train

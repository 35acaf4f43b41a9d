// Sampling rules against their definitions, and stop strings across token boundaries.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/sampler.h"
#include "engine/stop_matcher.h"

namespace dsv4::engine {
namespace {

TEST(Sampler, GreedyAndTruncation) {
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
  SamplingParams g;
  g.temperature = 0;
  Distribution d = make_distribution(l, g, nullptr);
  ASSERT_TRUE(d.greedy);
  EXPECT_EQ(d.ids[0], 1);  // lowest id on ties
  SamplingParams p;
  p.top_k = 3;
  d = make_distribution(l, p, nullptr);
  EXPECT_EQ(d.ids, (std::vector<int32_t>{1, 3, 2}));
  double sum = 0;
  for (double x : d.probs) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // softmax over the three kept logits: e^3, e^3, e^2
  const double z = 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(d.probs[0], std::exp(3.0) / z, 1e-12);
  p.top_k = 0;
  p.top_p = 0.5f;  // the first candidate alone has 0.42 < 0.5: two are kept
  d = make_distribution(l, p, nullptr);
  EXPECT_EQ(d.ids.size(), 2u);
  p.top_p = 1.0f;
  p.min_p = 0.5f;  // keeps p >= 0.5 * p_max: e^2 / e^3 = 0.37 is cut
  d = make_distribution(l, p, nullptr);
  EXPECT_EQ(d.ids.size(), 2u);
  EXPECT_EQ(d.logprob(2), -INFINITY);
}

TEST(Sampler, PenaltiesAndBias) {
  const std::vector<float> l = {2.0f, -2.0f, 1.0f};
  TokenHistory h;
  h.add_prompt(std::vector<int32_t>{1});
  h.add_output(0);
  h.add_output(0);
  SamplingParams p;
  p.temperature = 0;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.repetition_penalty = 2.0f;
  p.logit_bias = {{2, 0.5f}};
  const Distribution d = make_distribution(l, p, &h);
  // token 0: 2 / 2 (repetition) - 0.5 - 2 * 0.25 = 0; token 1: -2 * 2 = -4; token 2: 1 + 0.5
  EXPECT_FLOAT_EQ(d.processed[0], 0.0f);
  EXPECT_FLOAT_EQ(d.processed[1], -4.0f);
  EXPECT_FLOAT_EQ(d.processed[2], 1.5f);
  EXPECT_EQ(d.ids[0], 2);
  // Greedy logprobs are the log-softmax of the processed logits.
  const double z = std::exp(0.0) + std::exp(-4.0) + std::exp(1.5);
  EXPECT_NEAR(d.logprob(2), 1.5 - std::log(z), 1e-6);
  const auto top = d.top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 2);
  EXPECT_EQ(top[1].first, 0);
}

TEST(Sampler, SeededDrawsRepeatAndFollowTheDistribution) {
  const std::vector<float> l = {0.0f, std::log(3.0f)};  // p = 1/4, 3/4
  SamplingParams p;
  const Distribution d = make_distribution(l, p, nullptr);
  Rng a(9), b(9);
  int ones = 0;
  for (int i = 0; i < 40000; ++i) {
    const int32_t x = draw(d, a);
    EXPECT_EQ(x, draw(d, b));
    ones += x;
  }
  EXPECT_NEAR(ones / 40000.0, 0.75, 0.01);
}

TEST(Sampler, ValidateRejectsOutOfRange) {
  SamplingParams p;
  p.temperature = -1;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.presence_penalty = 3;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.repetition_penalty = 0;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.top_logprobs = 21;
  EXPECT_FALSE(validate(p).ok());
  p = {};
  p.logit_bias = {{10, 1.0f}};
  EXPECT_FALSE(validate(p, 10).ok());
  EXPECT_TRUE(validate(p, 11).ok());
}

TEST(StopMatcher, AcrossTokenBoundaries) {
  StopMatcher s({"STOP", "\n\n"});
  std::string out;
  for (const char* piece : {"hello S", "T", "O", "ne", " and ST", "OP trailing"}) out += s.push(piece);
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(out, "hello STOne and ");
  EXPECT_EQ(s.matched(), "STOP");
  EXPECT_EQ(s.push("more"), "");
}

TEST(StopMatcher, ReportsTheEarliestMatchNotTheFirstListed) {
  StopMatcher s({"end", "\n"});
  EXPECT_EQ(s.matched(), "");
  EXPECT_EQ(s.push("a\nb end"), "a");
  EXPECT_EQ(s.matched(), "\n");
}

TEST(StopMatcher, HeldTextIsReleasedAtTheEnd) {
  StopMatcher s({"abc"});
  EXPECT_EQ(s.push("xxab"), "xx");
  EXPECT_EQ(s.held(), 2u);
  EXPECT_EQ(s.flush(), "ab");
  StopMatcher t({"\n\n", "xyz"});
  EXPECT_EQ(t.push("a\n"), "a");
  EXPECT_EQ(t.push("\nb"), "");
  EXPECT_TRUE(t.stopped());
  StopMatcher none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

}  // namespace
}  // namespace dsv4::engine

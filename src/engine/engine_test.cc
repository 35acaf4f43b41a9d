// The engine core: greedy output equals the plain forward pass, batch invariance of full logits
// under continuous batching, decoders are not stalled by a long prompt, n > 1 choices share one
// prefill, cancellation, and bad requests get error events.
#include "engine/engine_test_util.h"

#include <thread>

namespace dsv4::engine {
namespace {

using namespace testing;

class EngineGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineGolden, GreedyEqualsPlainForward) {
  const model::Model& m = golden_model(GetParam());
  LogitsRecorder rec;
  EngineOptions o;
  o.speculative = 0;
  rec.attach(o);
  Engine e(m, nullptr, o);
  const auto prompt = random_tokens(21, m.config().vocab_size, 1);
  auto s = e.submit(greedy(prompt, 8));
  Result r = collect(*s);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.tokens.size(), 1u);
  ASSERT_EQ(r.tokens[0].size(), 8u);
  EXPECT_EQ(r.finish[0], FinishReason::kLength);
  // The plain loop: argmax of each forward's last row.
  model::Sequence seq = m.new_sequence();
  auto l = m.forward(seq, prompt, 1);
  std::vector<int32_t> want;
  for (int i = 0; i < 8; ++i) {
    want.push_back(argmax(*l));
    const int32_t t[1] = {want.back()};
    l = m.forward(seq, t, 1);
  }
  EXPECT_EQ(r.tokens[0], want);
  expect_rows_match_solo(m, rec, s->id(), 0, prompt, r.tokens[0]);
  EXPECT_EQ(r.usage.prompt_tokens, 21);
  EXPECT_EQ(r.usage.completion_tokens, 8);
  EXPECT_EQ(r.usage.prefilled_tokens, 21);
}

// 1 to 8 concurrent requests of different lengths, some arriving while others decode, under
// two step budgets (different chunkings): every logits row equals the solo row bitwise.
TEST_P(EngineGolden, BatchInvariantLogits) {
  const model::Model& m = golden_model(GetParam());
  for (int budget : {5, 64}) {
    for (int k : {1, 3, 8}) {
      LogitsRecorder rec;
      EngineOptions o;
      o.step_tokens = budget;
      o.speculative = 0;
      rec.attach(o);
      Engine e(m, nullptr, o);
      std::vector<std::vector<int32_t>> prompts(k);
      std::vector<std::shared_ptr<Stream>> streams(k);
      for (int i = 0; i < k; ++i) {
        prompts[i] = random_tokens(3 + (29 * i + k) % 45, m.config().vocab_size, 50 * k + i);
        Request r = greedy(prompts[i], 4 + i % 3);
        if (i % 2) {  // a seeded sampled request: its tokens must not depend on the others either
          r.sampling.temperature = 1.0f;
          r.sampling.seed = 1000 + i;
        }
        streams[i] = e.submit(std::move(r));
        if (i == k / 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // later arrivals
      }
      for (int i = 0; i < k; ++i) {
        Result r = collect(*streams[i]);
        ASSERT_TRUE(r.error.empty()) << r.error;
        expect_rows_match_solo(m, rec, streams[i]->id(), 0, prompts[i], r.tokens[0]);
      }
      EXPECT_LE(e.stats().max_step_tokens, budget + k) << "budget " << budget;
    }
  }
}

TEST_P(EngineGolden, SeededSamplingIsReproducibleUnderLoad) {
  const model::Model& m = golden_model(GetParam());
  EngineOptions o;
  o.speculative = 0;
  const auto prompt = random_tokens(17, m.config().vocab_size, 3);
  Request req = greedy(prompt, 10);
  req.sampling.temperature = 0.9f;
  req.sampling.top_p = 0.95f;
  req.sampling.seed = 42;
  std::vector<int32_t> alone;
  {
    Engine e(m, nullptr, o);
    alone = collect(*e.submit(req)).tokens[0];
  }
  Engine e(m, nullptr, o);
  std::vector<std::shared_ptr<Stream>> others;
  for (int i = 0; i < 4; ++i) others.push_back(e.submit(greedy(random_tokens(9 + 7 * i, m.config().vocab_size, 9 + i), 6)));
  auto s = e.submit(req);
  EXPECT_EQ(collect(*s).tokens[0], alone);
  for (auto& x : others) collect(*x);
}

INSTANTIATE_TEST_SUITE_P(Golden, EngineGolden, ::testing::Values("tiny-flash", "tiny-pro"),
                         [](const auto& info) { return std::string(info.param) == "tiny-flash" ? "Flash" : "Pro"; });

// A running decoder gets a token in every step while a long prompt is prefilled in chunks of
// the remaining budget.
TEST(Engine, LongPromptDoesNotStallDecoders) {
  const model::Model& m = golden_model("tiny-flash");
  EngineOptions o;
  o.step_tokens = 32;
  o.speculative = 0;
  Engine e(m, nullptr, o);
  auto a = e.submit(greedy(random_tokens(8, m.config().vocab_size, 5), 40));
  Event ev;
  ASSERT_TRUE(a->next(&ev));  // a is decoding
  ASSERT_EQ(ev.kind, Event::Kind::kToken);
  const int64_t first_step = ev.step;
  auto b = e.submit(greedy(random_tokens(400, m.config().vocab_size, 6), 2));
  Result ra = collect(*a), rb = collect(*b);
  ASSERT_TRUE(ra.error.empty() && rb.error.empty());
  ra.steps.insert(ra.steps.begin(), first_step);
  for (size_t i = 1; i < ra.steps.size(); ++i) EXPECT_EQ(ra.steps[i], ra.steps[i - 1] + 1) << "token " << i;
  EXPECT_LE(e.stats().max_step_tokens, 32);
  // b's prefill took at least 400 / 31 steps, and a kept decoding through them.
  EXPECT_GE(rb.steps.front() - first_step, 400 / 31);
  EXPECT_EQ(rb.usage.prefilled_tokens, 400);
}

TEST(Engine, ChoicesShareOnePrefill) {
  const model::Model& m = golden_model("tiny-flash");
  EngineOptions o;
  o.speculative = 0;
  Engine e(m, nullptr, o);
  const auto prompt = random_tokens(30, m.config().vocab_size, 8);
  Request g = greedy(prompt, 6);
  g.n = 3;
  Result r = collect(*e.submit(g));
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[0], r.tokens[1]);
  EXPECT_EQ(r.tokens[0], r.tokens[2]);
  EXPECT_EQ(r.usage.prefilled_tokens, 30);
  EXPECT_EQ(r.usage.completion_tokens, 18);
  Request s = g;
  s.sampling.temperature = 1.5f;
  s.sampling.seed = 7;
  s.max_tokens = 12;
  Result a = collect(*e.submit(s)), b = collect(*e.submit(s));
  EXPECT_EQ(a.tokens, b.tokens);  // reproducible
  EXPECT_NE(a.tokens[0], a.tokens[1]);  // choices draw from their own generators
}

TEST(Engine, CancelEndsTheRequestAndFreesIt) {
  const model::Model& m = golden_model("tiny-flash");
  Engine e(m, nullptr, {});
  auto a = e.submit(greedy(random_tokens(10, m.config().vocab_size, 10), 100000));
  auto b = e.submit(greedy(random_tokens(12, m.config().vocab_size, 11), 5));
  Event ev;
  int got = 0;
  while (got < 3 && a->next(&ev))
    if (ev.kind == Event::Kind::kToken) ++got;
  a->cancel();
  Result ra = collect(*a);
  ASSERT_EQ(ra.finish.size(), 1u);
  EXPECT_EQ(ra.finish[0], FinishReason::kCancelled);
  Result rb = collect(*b);
  EXPECT_EQ(rb.finish[0], FinishReason::kLength);
  // Cancelled while still in prefill.
  auto c = e.submit(greedy(random_tokens(600, m.config().vocab_size, 12), 5));
  c->cancel();
  Result rc = collect(*c);
  ASSERT_FALSE(rc.finish.empty());
  EXPECT_EQ(rc.finish[0], FinishReason::kCancelled);
}

TEST(Engine, BadRequestsGetErrorEvents) {
  const model::Model& m = golden_model("tiny-flash");
  EngineOptions o;
  o.max_context = 64;
  Engine e(m, nullptr, o);
  const int V = static_cast<int>(m.config().vocab_size);
  auto expect_error = [&](Request r, const std::string& needle) {
    Result res = collect(*e.submit(std::move(r)));
    EXPECT_NE(res.error.find(needle), std::string::npos) << "got: '" << res.error << "'";
  };
  expect_error(greedy({}, 4), "empty");
  expect_error(greedy({1, V}, 4), "outside the vocabulary");
  expect_error(greedy({-3}, 4), "outside the vocabulary");
  expect_error(greedy(random_tokens(64, V, 1), 4), "context");
  Request r = greedy({5, 6}, 4);
  r.sampling.top_p = 0;
  expect_error(r, "top_p");
  r = greedy({5, 6}, 0);
  expect_error(r, "max_tokens");
  r = greedy({5, 6}, 4);
  r.n = 0;
  expect_error(r, "n must be");
  r = greedy({5, 6}, 4);
  r.stop = {"x"};
  expect_error(r, "tokenizer");
  r = greedy({5, 6}, 4);
  r.sampling.logit_bias = {{V + 1, 1.0f}};
  expect_error(r, "logit_bias");
  // Generation stops at the context limit.
  Result ok = collect(*e.submit(greedy(random_tokens(60, V, 2), 100)));
  EXPECT_EQ(ok.finish[0], FinishReason::kLength);
  EXPECT_EQ(ok.tokens[0].size(), 4u);
}

TEST(Engine, LogitBiasAndLogprobs) {
  const model::Model& m = golden_model("tiny-flash");
  Engine e(m, nullptr, {});
  Request r = greedy(random_tokens(10, m.config().vocab_size, 4), 5);
  r.sampling.logit_bias = {{77, 100.0f}};
  r.logprobs = true;
  r.sampling.top_logprobs = 3;
  Result res = collect(*e.submit(r));
  EXPECT_EQ(res.tokens[0], std::vector<int32_t>(5, 77));
  ASSERT_EQ(res.logprobs[0].size(), 5u);
  for (double lp : res.logprobs[0]) EXPECT_GT(lp, -1e-3);  // a +100 bias leaves ~all mass on 77
}

}  // namespace
}  // namespace dsv4::engine

namespace dsv4::engine {
namespace {

// A request whose last event the caller has seen no longer counts as running, although the
// engine drops it from its job list only at its next step (the server's /metrics reads this).
TEST(EngineStats, RunningExcludesARequestWhoseReplyIsComplete) {
  const model::Model& m = testing::golden_model("tiny-flash");
  EngineOptions o;
  o.speculative = 0;
  Engine e(m, nullptr, o);
  for (int i = 0; i < 20; ++i) {
    auto s = e.submit(testing::greedy(testing::random_tokens(8, m.config().vocab_size, 40 + i), 2));
    const auto r = testing::collect(*s);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(e.stats().running, 0) << "after request " << i;
  }
}

}  // namespace
}  // namespace dsv4::engine

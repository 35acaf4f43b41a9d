// EngineOptions::kv_budget: a request that fits only once others finish waits in the queue (and
// its output is the same as without a budget); one that could never fit ends with an error
// naming the numbers.
#include "engine/engine_test_util.h"
#include "model/memory_plan.h"

namespace dsv4::engine {
namespace {

using namespace testing;

class KvBudget : public ::testing::TestWithParam<const char*> {};

TEST_P(KvBudget, RefusesWhatCouldNeverFit) {
  const model::Model& m = golden_model(GetParam());
  const auto prompt = random_tokens(40, m.config().vocab_size, 3);
  const int64_t need = request_state_bytes(m.config(), 40 + 8, 1, false);
  EngineOptions o;
  o.speculative = 0;
  o.kv_budget = need - 1;
  Engine e(m, nullptr, o);
  Result r = collect(*e.submit(greedy(prompt, 8)));
  EXPECT_TRUE(r.tokens.empty());
  EXPECT_NE(r.error.find(fmt::format("needs {} bytes of sequence state (1 choice(s) at 48 tokens: prompt 40 + max_tokens 8)", need)),
            std::string::npos) << r.error;
  EXPECT_NE(r.error.find(fmt::format("KV budget of {} bytes", need - 1)), std::string::npos) << r.error;

  // n = 2 doubles it: one choice fits the budget, two do not.
  Engine e2(m, nullptr, [&] {
    EngineOptions o2 = o;
    o2.kv_budget = need;
    return o2;
  }());
  Request two = greedy(prompt, 8);
  two.n = 2;
  r = collect(*e2.submit(two));
  EXPECT_NE(r.error.find(fmt::format("needs {} bytes", 2 * need)), std::string::npos) << r.error;
  r = collect(*e2.submit(greedy(prompt, 8)));  // the engine goes on serving what fits
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.tokens.size(), 1u);
  EXPECT_EQ(r.tokens[0].size(), 8u);
}

TEST_P(KvBudget, WaitsUntilOthersFinish) {
  const model::Model& m = golden_model(GetParam());
  const int V = static_cast<int>(m.config().vocab_size);
  std::vector<std::vector<int32_t>> prompts = {random_tokens(30, V, 11), random_tokens(25, V, 12),
                                               random_tokens(35, V, 13)};
  // Reference outputs without a budget (all three at once).
  std::vector<Result> want;
  {
    EngineOptions o;
    o.speculative = 0;
    Engine e(m, nullptr, o);
    std::vector<std::shared_ptr<Stream>> s;
    for (const auto& p : prompts) s.push_back(e.submit(greedy(p, 6)));
    for (auto& x : s) want.push_back(collect(*x));
  }
  // The budget holds the first two requests but not the third beside them.
  const int64_t a = request_state_bytes(m.config(), 36, 1, false), b = request_state_bytes(m.config(), 31, 1, false),
                c = request_state_bytes(m.config(), 41, 1, false);
  ASSERT_LT(c, a + b);
  EngineOptions o;
  o.speculative = 0;
  o.kv_budget = a + b;
  Engine e(m, nullptr, o);
  std::vector<std::shared_ptr<Stream>> s;
  for (const auto& p : prompts) s.push_back(e.submit(greedy(p, 6)));
  std::vector<Result> got;
  for (auto& x : s) got.push_back(collect(*x));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(got[i].error.empty()) << i << ": " << got[i].error;
    EXPECT_EQ(got[i].tokens, want[i].tokens) << i;
  }
  // The third started only after one of the first two had finished (its last token came first).
  ASSERT_FALSE(got[2].steps.empty());
  EXPECT_GT(got[2].steps.front(), std::min(got[0].steps.back(), got[1].steps.back()));
}

INSTANTIATE_TEST_SUITE_P(Golden, KvBudget, ::testing::Values("tiny-flash", "tiny-pro"));

}  // namespace
}  // namespace dsv4::engine

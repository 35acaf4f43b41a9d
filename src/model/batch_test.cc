// Batch invariance of the forward pass: a sequence's logits (full vectors, bitwise) and state do
// not depend on which other sequences share a forward_batch call, on their order or on how each
// one's tokens are split into chunks. The engine's continuous batching relies on this.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "base/thread_pool.h"
#include "model/golden_models.h"
#include "model/model.h"

namespace dsv4::model {
namespace {

using testing::random_tokens;
const Model& load(const std::string& name) { return testing::golden_model(name); }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Logits of every position of `tokens`, fed alone in one call.
std::vector<float> alone(const Model& m, const std::vector<int32_t>& tokens) {
  Sequence s = m.new_sequence();
  auto r = m.forward(s, tokens, static_cast<int64_t>(tokens.size()));
  EXPECT_TRUE(r.ok()) << r.message();
  return *r;
}

class BatchInvariance : public ::testing::TestWithParam<const char*> {};

// k sequences of different lengths advance together in steps of random chunk sizes (a mix of
// prefill chunks and single-token decode steps, sequences joining late and finishing early);
// every logit row must equal the row of the sequence run alone.
TEST_P(BatchInvariance, MixedStepsMatchSoloRuns) {
  const Model& m = load(GetParam());
  const int V = static_cast<int>(m.config().vocab_size);
  std::mt19937 rng(7);
  for (int k : {1, 3, 8}) {
    std::vector<std::vector<int32_t>> toks(k);
    std::vector<std::vector<float>> solo(k), got(k);
    for (int i = 0; i < k; ++i) {
      toks[i] = random_tokens(4 + (17 * i + 3 * k) % 28, V, 100 * k + i);
      solo[i] = alone(m, toks[i]);
    }
    std::vector<Sequence> seqs(k);
    for (auto& s : seqs) s = m.new_sequence();
    std::vector<size_t> fed(k, 0);
    std::vector<int> start_step(k);
    for (int i = 0; i < k; ++i) start_step[i] = static_cast<int>(rng() % 4);
    for (int step = 0;; ++step) {
      std::vector<SeqInput> in;
      for (int i = 0; i < k; ++i) {
        if (step < start_step[i] || fed[i] == toks[i].size()) continue;
        const size_t left = toks[i].size() - fed[i];
        const size_t n = std::min<size_t>(left, rng() % 3 == 0 ? 1 + rng() % 40 : 1);
        in.push_back({&seqs[i], std::span(toks[i]).subspan(fed[i], n), static_cast<int64_t>(n), false});
        fed[i] += n;
      }
      if (in.empty()) {
        bool done = true;
        for (int i = 0; i < k; ++i) done &= fed[i] == toks[i].size();
        if (done) break;
        continue;
      }
      std::shuffle(in.begin(), in.end(), rng);  // arrival order inside the batch
      auto out = m.forward_batch(in);
      ASSERT_TRUE(out.ok()) << out.message();
      for (size_t j = 0; j < in.size(); ++j) {
        const int i = static_cast<int>(in[j].seq - seqs.data());
        got[i].insert(got[i].end(), (*out)[j].logits.begin(), (*out)[j].logits.end());
      }
    }
    for (int i = 0; i < k; ++i) EXPECT_TRUE(same_bits(got[i], solo[i])) << "k=" << k << " sequence " << i;
  }
}

TEST_P(BatchInvariance, MtpBatchMatchesSolo) {
  const Model& m = load(GetParam());
  const int V = static_cast<int>(m.config().vocab_size);
  const int k = 5;
  std::vector<std::vector<int32_t>> toks(k);
  std::vector<std::vector<float>> states(k), solo(k);
  std::vector<Sequence> seqs(k);
  for (int i = 0; i < k; ++i) {
    toks[i] = random_tokens(6 + 11 * i, V, 300 + i);
    seqs[i] = m.new_sequence();
    auto r = m.forward(seqs[i], toks[i], 1, &states[i]);
    ASSERT_TRUE(r.ok());
    Sequence s = m.new_sequence();
    auto l = m.mtp_forward(s, states[i].data(), std::span(toks[i]).subspan(1));
    ASSERT_TRUE(l.ok()) << l.message();
    solo[i] = *l;
  }
  std::vector<Sequence> mseqs(k);
  std::vector<MtpInput> in;
  for (int i = k - 1; i >= 0; --i) {
    mseqs[i] = m.new_sequence();
    in.push_back({&mseqs[i], states[i].data(), std::span(toks[i]).subspan(1)});
  }
  auto out = m.mtp_forward_batch(in);
  ASSERT_TRUE(out.ok()) << out.message();
  for (int j = 0; j < k; ++j) EXPECT_TRUE(same_bits((*out)[j], solo[k - 1 - j])) << "sequence " << k - 1 - j;
}

// The thread count changes which thread computes an output, never its reduction order.
TEST_P(BatchInvariance, ThreadCountDoesNotChangeLogits) {
  const Model& m = load(GetParam());
  const auto toks = random_tokens(40, static_cast<int>(m.config().vocab_size), 5);
  const int before = dsv4::num_threads();
  std::vector<std::vector<float>> got;
  for (int t : {1, 2, 3}) {
    dsv4::set_num_threads(t);
    got.push_back(alone(m, toks));
  }
  dsv4::set_num_threads(before);
  EXPECT_TRUE(same_bits(got[0], got[1]));
  EXPECT_TRUE(same_bits(got[0], got[2]));
}

TEST_P(BatchInvariance, BadInputLeavesEverySequenceUnchanged) {
  const Model& m = load(GetParam());
  Sequence a = m.new_sequence(), b = m.new_sequence();
  const std::vector<int32_t> good{1, 2, 3}, bad{1, static_cast<int32_t>(m.config().vocab_size)};
  std::vector<SeqInput> in{{&a, good, 1, false}, {&b, bad, 1, false}};
  auto r = m.forward_batch(in);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.message().find("outside the vocabulary"), std::string::npos) << r.message();
  EXPECT_EQ(a.pos, 0);
  EXPECT_EQ(b.pos, 0);
  std::vector<SeqInput> dup{{&a, good, 1, false}, {&a, good, 1, false}};
  EXPECT_FALSE(m.forward_batch(dup).ok());
}

INSTANTIATE_TEST_SUITE_P(Golden, BatchInvariance, ::testing::Values("tiny-flash", "tiny-pro"),
                         [](const auto& info) { return std::string(info.param) == "tiny-flash" ? "Flash" : "Pro"; });

}  // namespace
}  // namespace dsv4::model

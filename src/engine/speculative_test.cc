// MTP speculative decoding: greedy output and every logits row are bitwise those of plain
// decoding; with sampling, the accept / reject rule leaves the target distribution unchanged
// (chi-square over 20,000 draws per temperature, p and q taken from the tiny model's own main and
// MTP logits); drafted / accepted counts are reported.
#include "engine/engine_test_util.h"

#include <cmath>

namespace dsv4::engine {
namespace {

using namespace testing;

TEST(Speculative, GreedyIsBitwisePlainDecoding) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const model::Model& m = golden_model(name);
    ASSERT_FALSE(m.weights().mtp.empty());
    const int V = static_cast<int>(m.config().vocab_size);
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < 4; ++i) prompts.push_back(random_tokens(5 + 13 * i, V, 60 + i));
    std::vector<Result> res[2];
    int64_t drafted = 0, accepted = 0;
    for (int spec : {0, 1}) {
      LogitsRecorder rec;
      EngineOptions o;
      o.speculative = spec;
      rec.attach(o);
      Engine e(m, nullptr, o);
      std::vector<std::shared_ptr<Stream>> ss;
      for (size_t i = 0; i < prompts.size(); ++i) {
        Request r = greedy(prompts[i], 24);
        // Random tiny models' MTP rarely agrees with the main model; a strong bias on one token
        // makes both agree, so the accept path (bonus token, no rollback) runs too. A milder bias
        // gives a mix of accepts and rejects.
        if (i == 1) r.sampling.logit_bias = {{77, 100.0f}};
        if (i == 2) r.sampling.logit_bias = {{77, 4.0f}, {78, 4.0f}};
        ss.push_back(e.submit(r));
      }
      for (size_t i = 0; i < ss.size(); ++i) {
        res[spec].push_back(collect(*ss[i]));
        expect_rows_match_solo(m, rec, ss[i]->id(), 0, prompts[i], res[spec].back().tokens[0]);
        if (spec) {
          drafted += res[spec].back().usage.drafted_tokens;
          accepted += res[spec].back().usage.accepted_tokens;
        }
      }
    }
    for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(res[0][i].tokens, res[1][i].tokens) << name << " " << i;
    EXPECT_GT(drafted, 20) << name;
    EXPECT_GE(accepted, 10) << name;
    EXPECT_LT(accepted, drafted) << name;
    std::printf("%s greedy: %lld drafted, %lld accepted\n", name, static_cast<long long>(drafted),
                static_cast<long long>(accepted));
  }
}

// Upper critical value of chi-square with k degrees of freedom at p = 1e-4 (Wilson-Hilferty).
double chi2_critical(int k) {
  const double z = 3.719;
  const double a = 2.0 / (9.0 * k);
  return k * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

TEST(Speculative, AcceptRejectPreservesTheTargetDistribution) {
  const model::Model& m = golden_model("tiny-flash");
  const int V = static_cast<int>(m.config().vocab_size);
  const auto toks = random_tokens(12, V, 70);
  model::Sequence s = m.new_sequence();
  std::vector<float> states;
  auto p_logits = m.forward(s, toks, 1, &states);
  ASSERT_TRUE(p_logits.ok());
  model::Sequence ms = m.new_sequence();
  const int32_t next[1] = {toks[5]};
  auto q_logits = m.mtp_forward(ms, &states[(toks.size() - 1) * m.config().hc_dim()], next);
  ASSERT_TRUE(q_logits.ok());
  for (float T : {0.6f, 1.0f, 1.6f}) {
    SamplingParams sp;
    sp.temperature = T;
    const Distribution p = make_distribution(*p_logits, sp, nullptr);
    const Distribution q = make_distribution(*q_logits, sp, nullptr);
    Rng rng(static_cast<uint64_t>(T * 1000));
    const int N = 20000;
    std::vector<int> count(V, 0);
    int accepted = 0;
    for (int i = 0; i < N; ++i) {
      const int32_t d = draw(q, rng);
      const Verdict v = verify_draft(p, q, d, rng);
      accepted += v.accepted;
      ++count[v.token];
    }
    // Bins with expected count >= 5; the rest pooled into one.
    double chi2 = 0, rest_obs = 0, rest_exp = 0;
    int bins = 0;
    for (int t = 0; t < V; ++t) {
      const double ex = N * p.prob(t);
      if (ex >= 5) {
        chi2 += (count[t] - ex) * (count[t] - ex) / ex;
        ++bins;
      } else {
        rest_obs += count[t];
        rest_exp += ex;
      }
    }
    if (rest_exp > 0) {
      chi2 += (rest_obs - rest_exp) * (rest_obs - rest_exp) / rest_exp;
      ++bins;
    }
    ASSERT_GT(bins, 5) << "T=" << T;
    EXPECT_LT(chi2, chi2_critical(bins - 1)) << "T=" << T << ": chi2 " << chi2 << " over " << bins << " bins";
    EXPECT_GT(accepted, 0);
    EXPECT_LT(accepted, N);  // p != q: some drafts are rejected, so the residual path is exercised
  }
}

TEST(Speculative, SampledDecodingIsReproducibleAndCounted) {
  const model::Model& m = golden_model("tiny-pro");
  Engine e(m, nullptr, {});
  Request r = greedy(random_tokens(20, m.config().vocab_size, 80), 30);
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 5;
  Result a = collect(*e.submit(r)), b = collect(*e.submit(r));
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.tokens[0].size(), 30u);
  EXPECT_GT(a.usage.drafted_tokens, 0);
  EXPECT_LE(a.usage.accepted_tokens, a.usage.drafted_tokens);
  Request off = r;
  off.speculative = 0;
  Result c = collect(*e.submit(off));
  EXPECT_EQ(c.usage.drafted_tokens, 0);
}

}  // namespace
}  // namespace dsv4::engine

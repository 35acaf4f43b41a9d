// Every module's backward against float64 central finite differences on the tiny config
// (train_test_util.h). The bound is a relative error of 1e-5 per checked coordinate (float64 with
// h = 1e-5: truncation ~1e-10, rounding ~1e-11 relative to the gradients here); the selections (top-k,
// hash) and the clamps are piecewise constant and the checked points lie away from their edges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "train/attention.h"
#include "train/block.h"
#include "train/hc.h"
#include "train/model.h"
#include "train/moe.h"
#include "train/ops.h"
#include "train/train_test_util.h"

namespace dsv4::train {
namespace {

using testing::max_fd_error;
using testing::randomize;
using testing::tiny_config;
constexpr double kBound = 1e-5;

std::vector<double> random_vec(int64_t n, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = rng.normal();
  return v;
}

double dot(const std::vector<double>& a, const double* b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Checks d(loss)/d(every parameter of `names`) and d(loss)/d(input) of a module given as
// fwd() -> loss and bwd() (which fills ps.grads and *dinput).
// `floor`: gradients below it are compared in absolute terms. A central difference's rounding error
// is about 1e-16 |loss| / h, i.e. ~1e-10 for the whole model's loss of ~4, so there coordinates with
// gradients under 1e-4 are held to an absolute error of 1e-9.
void check_module(Params<double>& ps, const std::vector<std::string>& prefixes, std::vector<double>& input,
                  const std::vector<double>& dinput, const std::function<double()>& loss, int samples = 12,
                  double floor = 1e-6) {
  std::string where;
  double worst = 0;
  if (!input.empty()) {
    const double e = max_fd_error(input.data(), dinput.data(), input.size(), 40, loss, 1e-5, 1e-6, &where);
    EXPECT_LT(e, kBound) << "input, " << where;
    worst = e;
  }
  int checked = 0;
  for (const ParamEntry& pe : ps.entries()) {
    bool match = false;
    for (const auto& p : prefixes) match |= pe.name.rfind(p, 0) == 0;
    if (!match || pe.group == ParamGroup::kBuffer) continue;
    const double e = max_fd_error(ps.values.data() + pe.offset, ps.grads.data() + pe.offset, pe.numel, samples, loss,
                                  1e-5, floor, &where);
    EXPECT_LT(e, kBound) << pe.name << ", " << where;
    worst = std::max(worst, e);
    ++checked;
  }
  EXPECT_GT(checked, 0);
  std::printf("%s: %d tensors, worst relative error %.2e\n",
              ::testing::UnitTest::GetInstance()->current_test_info()->name(), checked, worst);
}

TEST(GradCheck, Sinkhorn) {
  const int hc = 4;
  std::vector<double> logits = random_vec(hc * hc, 1), r = random_vec(hc * hc, 2), out(hc * hc), g(hc * hc);
  auto loss = [&] {
    sinkhorn_fwd(logits.data(), hc, 20, 1e-6, out.data());
    return dot(r, out.data());
  };
  sinkhorn_bwd(logits.data(), hc, 20, 1e-6, r.data(), g.data());
  std::string where;
  EXPECT_LT(max_fd_error(logits.data(), g.data(), hc * hc, 16, loss, 1e-5, 1e-6, &where), kBound) << where;
  // The projection is doubly stochastic (up to eps) after 20 iterations.
  loss();
  for (int k = 0; k < hc; ++k) {
    double col = 0;
    for (int j = 0; j < hc; ++j) col += out[j * hc + k];
    EXPECT_NEAR(col, 1.0, 1e-5);
  }
}

TEST(GradCheck, HyperConnections) {
  const ModelConfig c = tiny_config();
  Params<double> ps(c);
  randomize(ps, 3);
  BlockParams<double> bp = block_params(ps, c.layer(0));
  const int64_t n = 3, d = c.hidden_size, len = c.hc_dim(), hc = c.hc_mult;
  std::vector<double> x = random_vec(n * len, 4), ra = random_vec(n * d, 5), rp = random_vec(n * hc, 6),
                      rc = random_vec(n * hc * hc, 7), o = random_vec(n * d, 8), rx = random_vec(n * len, 9);
  std::vector<double> a(n * d), xn(n * len), dx(n * len, 0.0), d_o(n * d, 0.0);
  HcPreCache<double> cache;
  // pre + post in one loss: sum(ra a) + sum(rp post) + sum(rc comb) + sum(rx hc_post(o, x))
  auto loss = [&] {
    hc_pre_fwd(c, bp.hc_attn, x.data(), n, a.data(), cache);
    hc_post_fwd(c, o.data(), x.data(), cache.post.data(), cache.comb.data(), n, xn.data());
    return dot(ra, a.data()) + dot(rp, cache.post.data()) + dot(rc, cache.comb.data()) + dot(rx, xn.data());
  };
  loss();
  ps.zero_grad();
  std::vector<double> dpost(rp), dcomb(rc);
  hc_post_bwd(c, o.data(), x.data(), cache.post.data(), cache.comb.data(), rx.data(), n, d_o.data(), dx.data(),
              dpost.data(), dcomb.data());
  hc_pre_bwd(c, bp.hc_attn, x.data(), n, cache, ra.data(), dpost.data(), dcomb.data(), dx.data());
  check_module(ps, {"layers.0.hc_attn"}, x, dx, loss);
  std::string where;
  EXPECT_LT(max_fd_error(o.data(), d_o.data(), o.size(), 20, loss, 1e-5, 1e-6, &where), kBound) << where;

  // HC head.
  std::vector<double> h(n * d), dxh(n * len, 0.0);
  HcHeadCache<double> hcache;
  HcParams<double> hp{param(ps, "hc_head_fn"), param(ps, "hc_head_base"), param(ps, "hc_head_scale")};
  auto head_loss = [&] {
    hc_head_fwd(c, hp, x.data(), n, h.data(), hcache);
    return dot(ra, h.data());
  };
  head_loss();
  ps.zero_grad();
  hc_head_bwd(c, hp, x.data(), n, hcache, ra.data(), dxh.data());
  check_module(ps, {"hc_head"}, x, dxh, head_loss);
}

// The attention sub-layer of one block kind (window, CSA, HCA), its indexer excluded (next test).
void check_attention(int layer, int64_t b, int64_t s) {
  const ModelConfig c = tiny_config();
  Params<double> ps(c);
  randomize(ps, 10 + layer);
  BlockParams<double> bp = block_params(ps, c.layer(layer));
  const int64_t n = b * s, d = c.hidden_size;
  const RopeRows rope = make_rope_rows(c, bp.spec.compress_ratio > 0, s + 2);
  std::vector<double> a = random_vec(n * d, 20), r = random_vec(n * d, 21), out(n * d), da(n * d, 0.0);
  AttnCache<double> cache;
  auto loss = [&] {
    attention_fwd(c, bp, rope, a.data(), b, s, 0, out.data(), cache);
    return dot(r, out.data());
  };
  loss();
  ps.zero_grad();
  attention_bwd(c, bp, rope, a.data(), b, s, 0, cache, r.data(), da.data(), 0.0);
  const std::string p = "layers." + std::to_string(layer) + ".attn.";
  std::vector<std::string> prefixes = {p + "attn_sink", p + "wq_a", p + "wq_b", p + "wkv", p + "wo_a", p + "wo_b",
                                       p + "q_norm", p + "kv_norm", p + "compressor"};
  check_module(ps, prefixes, a, da, loss);
  if (bp.has_indexer) {
    // The KL loss's gradient reaches the indexer's own parameters only.
    AttnCache<double> c2;
    std::vector<double> o2(n * d), da2(n * d, 0.0);
    auto kl = [&] {
      attention_fwd(c, bp, rope, a.data(), b, s, 0, o2.data(), c2);
      std::vector<double> zero(n * d, 0.0), dz(n * d, 0.0);
      Params<double> scratch = ps;  // the backward writes gradients: keep ps's
      BlockParams<double> sp = block_params(scratch, c.layer(layer));
      attention_bwd(c, sp, rope, a.data(), b, s, 0, c2, zero.data(), dz.data(), 1.0);
      return c2.kl;
    };
    kl();
    ps.zero_grad();
    std::vector<double> zero(n * d, 0.0);
    attention_bwd(c, bp, rope, a.data(), b, s, 0, c2, zero.data(), da2.data(), 1.0);
    for (double v : da2) EXPECT_EQ(v, 0.0);  // detached from the main graph
    std::vector<double> none;
    check_module(ps, {p + "indexer"}, none, none, kl);
  }
}

TEST(GradCheck, AttentionWindow) { check_attention(0, 2, 7); }
TEST(GradCheck, AttentionCsaWithIndexer) { check_attention(1, 2, 13); }
TEST(GradCheck, AttentionHca) { check_attention(2, 1, 19); }

void check_moe(int layer, double swiglu_limit) {
  ModelConfig c = tiny_config();
  c.swiglu_limit = swiglu_limit;
  Params<double> ps(c);
  randomize(ps, 30 + layer);
  BlockParams<double> bp = block_params(ps, c.layer(layer));
  const int64_t n = 9, d = c.hidden_size;
  std::vector<double> f = random_vec(n * d, 31), r = random_vec(n * d, 32), y(n * d), df(n * d, 0.0);
  std::vector<int32_t> tokens(n);
  for (int64_t i = 0; i < n; ++i) tokens[i] = static_cast<int32_t>((i * 7) % c.vocab_size);
  MoeCache<double> cache;
  auto loss = [&] {
    moe_fwd(c, bp, f.data(), tokens.data(), n, y.data(), cache);
    return dot(r, y.data());
  };
  loss();
  ps.zero_grad();
  moe_bwd(c, bp, f.data(), n, cache, r.data(), df.data());
  const std::string p = "layers." + std::to_string(layer) + ".ffn.";
  check_module(ps, {p}, f, df, loss, 24);
}

TEST(GradCheck, MoeHashRouting) { check_moe(0, 10.0); }
TEST(GradCheck, MoeBiasedTopk) { check_moe(1, 10.0); }
// A limit the gate / up values reach: the clamped units pass no gradient.
TEST(GradCheck, MoeSwigluClamp) { check_moe(1, 0.4); }

// The whole model: embedding, every block kind, HC head, norm, LM head, MTP block and its loss.
TEST(GradCheck, WholeModelWithMtp) {
  const ModelConfig c = tiny_config();
  Params<double> ps(c);
  randomize(ps, 40, 0.1);
  const int64_t b = 2, s = 12;
  std::vector<int32_t> tokens(b * (s + 1));
  SplitMix64 rng(41);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next() % c.vocab_size);
  TrainModel<double> model(ps, LossWeights{0.3, 1.0});
  auto loss = [&] {
    StepLoss<double> l = model.step(tokens.data(), b, s, false);
    return l.total();
  };
  ps.zero_grad();
  const StepLoss<double> l = model.step(tokens.data(), b, s, true);
  EXPECT_GT(l.mtp, 0.0);
  EXPECT_NEAR(l.total(), loss(), 1e-12);
  std::vector<std::string> prefixes;
  for (const ParamEntry& e : ps.entries())
    if (e.name.find("indexer") == std::string::npos) prefixes.push_back(e.name);
  std::vector<double> none;
  check_module(ps, prefixes, none, none, loss, 4, 1e-4);
}

}  // namespace
}  // namespace dsv4::train

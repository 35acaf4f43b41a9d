// Lightning indexer against spec §2.8: scores as the reference's bf16 tensor ops (einsum with a
// bf16 result, relu, bf16 product with the head weight, bf16 sum over heads), and the top-k tie
// rule of PyTorch-CUDA (strictly greater first, equal scores by lowest index, +0.0 above -0.0).
#include "model/indexer.h"
#include "tensor/test_values.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace dsv4::model {
namespace {

using test_values::to_bf16;
using test_values::bf16_ulp;
using test_values::random_bf16_values;

// The f32-keys path (one GEMM over a chunk of unpacked keys, what attention uses) gives bitwise
// the scores of the bf16 row path, for head dims on and off the 16-lane boundary and any chunking.
TEST(IndexerScores, F32KeysGiveTheSameScoresAsBf16Rows) {
  for (int head_dim : {128, 40, 64}) {
    const int n_heads = 8;
    const int64_t n_keys = 300;
    const std::vector<float> q = random_bf16_values(n_heads * head_dim, 1.0f, 11);
    const std::vector<float> w = random_bf16_values(n_heads, 0.3f, 12);
    const std::vector<float> kf = random_bf16_values(n_keys * head_dim, 1.0f, 13);
    std::vector<bf16> keys(kf.size());
    for (size_t i = 0; i < kf.size(); ++i) keys[i] = f32_to_bf16(kf[i]);
    std::vector<float> a(n_keys), b(n_keys, NAN);
    indexer_scores(q.data(), w.data(), n_heads, head_dim, keys.data(), n_keys, a.data());
    for (int64_t k0 = 0; k0 < n_keys; k0 += 77)  // chunks of 77 keys
      indexer_scores_f32(q.data(), w.data(), n_heads, head_dim, &kf[k0 * head_dim], std::min<int64_t>(77, n_keys - k0),
                         &b[k0]);
    for (int64_t s = 0; s < n_keys; ++s)
      ASSERT_EQ(std::bit_cast<uint32_t>(a[s]), std::bit_cast<uint32_t>(b[s])) << "dim " << head_dim << " key " << s;
  }
}

// combine_heads (four keys per vector) against the scalar formulation, with -0, NaN, negatives,
// values on bf16 rounding ties and a tail of keys that is not a multiple of four.
TEST(IndexerScores, CombineHeadsMatchesTheScalarFormulation) {
  const int n_heads = 5;
  const int64_t n = 43;
  std::vector<float> dots = random_bf16_values(static_cast<int>(n_heads * n), 3.0f, 21);
  for (size_t i = 0; i < dots.size(); i += 7) dots[i] += std::ldexp(1.0f, -9) * 1.5f;  // off the bf16 grid
  dots[3] = -0.0f;
  dots[4] = std::numeric_limits<float>::quiet_NaN();
  dots[n + 5] = std::bit_cast<float>(0x3f808000u);  // a tie: rounds to even
  dots[n + 6] = std::bit_cast<float>(0x3f818000u);
  const std::vector<float> w = random_bf16_values(n_heads, 0.5f, 22);
  std::vector<float> got(n);
  combine_heads(dots.data(), w.data(), n_heads, n, got.data());
  for (int64_t s = 0; s < n; ++s) {
    float total = 0.0f;
    for (int h = 0; h < n_heads; ++h) total += round_bf16(std::max(round_bf16(dots[h * n + s]), 0.0f) * w[h]);
    const float want = round_bf16(total);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[s])) << s;
      continue;
    }
    EXPECT_EQ(std::bit_cast<uint32_t>(got[s]), std::bit_cast<uint32_t>(want)) << "key " << s;
  }
}

TEST(IndexerScores, MatchBf16Formulation) {
  const int n_heads = 3, head_dim = 40;
  const int64_t n_keys = 23;
  const std::vector<float> q = random_bf16_values(n_heads * head_dim, 1.0f, 1);
  const std::vector<float> w = random_bf16_values(n_heads, 0.3f, 2);  // signed head weights
  const std::vector<float> kf = random_bf16_values(n_keys * head_dim, 1.0f, 3);
  std::vector<bf16> keys(kf.size());
  for (size_t i = 0; i < kf.size(); ++i) keys[i] = f32_to_bf16(kf[i]);
  std::vector<float> scores(n_keys, NAN);
  indexer_scores(q.data(), w.data(), n_heads, head_dim, keys.data(), n_keys, scores.data());
  int exact = 0, relu_hit = 0;
  for (int64_t s = 0; s < n_keys; ++s) {
    double total = 0.0, tol = 0.0;
    for (int h = 0; h < n_heads; ++h) {
      double dot = 0.0;
      for (int i = 0; i < head_dim; ++i) dot += static_cast<double>(q[h * head_dim + i]) * kf[s * head_dim + i];
      const float relu = std::max(to_bf16(dot), 0.0f);
      relu_hit += relu == 0.0f;
      const float prod = to_bf16(static_cast<double>(relu) * w[h]);
      total += prod;
      tol += bf16_ulp(prod);  // a dot product on a rounding boundary may land one ulp away
    }
    const float ref = to_bf16(total);
    tol += bf16_ulp(ref);
    ASSERT_EQ(scores[s], round_bf16(scores[s]));
    ASSERT_LE(std::fabs(scores[s] - ref), tol) << "key " << s << " got " << scores[s] << " want " << ref;
    exact += scores[s] == ref;
  }
  EXPECT_GE(exact, n_keys - 1);
  EXPECT_GT(relu_hit, 0);  // the relu was exercised
}

TEST(IndexerScores, OnlyVisibleKeysAreWritten) {
  const int n_heads = 2, head_dim = 8;
  const std::vector<float> q = random_bf16_values(n_heads * head_dim, 1.0f, 4);
  const std::vector<float> w = {0.5f, 0.25f};
  std::vector<bf16> keys(5 * head_dim, f32_to_bf16(1.0f));
  std::vector<float> scores(5, -7.0f);
  indexer_scores(q.data(), w.data(), n_heads, head_dim, keys.data(), 3, scores.data());
  EXPECT_EQ(scores[3], -7.0f);
  EXPECT_EQ(scores[4], -7.0f);
  indexer_scores(q.data(), w.data(), n_heads, head_dim, keys.data(), 0, scores.data());  // nothing visible
}

// Independent formulation of the rank order: key (value, +0 above -0) descending, index ascending.
std::vector<int32_t> reference_topk(const std::vector<float>& s, int64_t k) {
  std::vector<int32_t> idx(s.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) {
    const auto key = [&](int32_t i) { return std::make_pair(s[i], s[i] == 0.0f ? !std::signbit(s[i]) : false); };
    return key(a) > key(b);
  });
  idx.resize(std::min<int64_t>(k, static_cast<int64_t>(s.size())));
  return idx;
}

TEST(TopK, TieRuleOnHandPickedScores) {
  const float inf = std::numeric_limits<float>::infinity();
  //                         0     1      2     3      4     5     6      7     8
  const std::vector<float> s{1.0f, 2.0f, -0.0f, 2.0f, 0.0f, 1.0f, -inf, -0.0f, 0.0f};
  EXPECT_EQ(topk_indices(s.data(), 9, 9), (std::vector<int32_t>{1, 3, 0, 5, 4, 8, 2, 7, 6}));
  EXPECT_EQ(topk_indices(s.data(), 9, 3), (std::vector<int32_t>{1, 3, 0}));
  EXPECT_EQ(topk_indices(s.data(), 9, 5), (std::vector<int32_t>{1, 3, 0, 5, 4}));
  EXPECT_EQ(topk_indices(s.data(), 9, 6), (std::vector<int32_t>{1, 3, 0, 5, 4, 8}));  // +0 before any -0
  EXPECT_EQ(topk_indices(s.data(), 9, 7), (std::vector<int32_t>{1, 3, 0, 5, 4, 8, 2}));
}

TEST(TopK, KLargerThanNReturnsAll) {
  const std::vector<float> s{0.5f, 3.0f, 0.5f};
  EXPECT_EQ(topk_indices(s.data(), 3, 10), (std::vector<int32_t>{1, 0, 2}));
  EXPECT_TRUE(topk_indices(s.data(), 0, 4).empty());
  EXPECT_TRUE(topk_indices(s.data(), 3, 0).empty());
}

TEST(TopK, RandomScoresWithManyTiesMatchStableOrder) {
  std::mt19937 rng(11);
  const std::vector<float> pool{-1.0f, -0.0f, 0.0f, 0.5f, 0.5f, 1.0f, 3.0f};  // many exact ties
  std::uniform_int_distribution<int> pick(0, static_cast<int>(pool.size()) - 1);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t n = 1 + trial * 7 % 61;
    std::vector<float> s(n);
    for (auto& v : s) v = pool[pick(rng)];
    for (int64_t k : {int64_t{1}, n / 2, n, n + 3}) ASSERT_EQ(topk_indices(s.data(), n, k), reference_topk(s, k)) << n << " " << k;
  }
}

}  // namespace
}  // namespace dsv4::model

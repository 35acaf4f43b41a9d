// Sparse attention core against spec §2.9 in double: o_h = sum_j e^(s_j - M) v_j /
// (sum_j e^(s_j - M) + e^(sink_h - M)) with K = V, s_j = q_h.kv_j * scale; the sink adds to the
// denominator only, nullptr candidates do not exist. The engine rounds each probability to bf16
// before P.V (relative error <= 2^-9 per weight), so the tolerance per element is
// 2^-8 * sum_j p_j |v_j| / denom plus one bf16 ulp for the output rounding.
#include "model/attention.h"
#include "tensor/test_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace dsv4::model {
namespace {

using test_values::bf16_ulp;
using test_values::random_bf16_values;

// Reference over the non-null rows; returns o [H, D] and the per-element tolerance.
void reference(const std::vector<float>& q, int H, int D, const std::vector<const bf16*>& rows, const float* sink,
               double scale, std::vector<double>& o, std::vector<double>& tol) {
  o.assign(static_cast<size_t>(H) * D, 0.0);
  tol.assign(static_cast<size_t>(H) * D, 0.0);
  for (int h = 0; h < H; ++h) {
    std::vector<double> s;
    std::vector<const bf16*> valid;
    for (const bf16* r : rows) {
      if (!r) continue;
      double dot = 0.0;
      for (int i = 0; i < D; ++i) dot += static_cast<double>(q[h * D + i]) * bf16_to_f32(r[i]);
      s.push_back(dot * scale);
      valid.push_back(r);
    }
    double M = -INFINITY;
    for (double v : s) M = std::max(M, v);
    double denom = std::exp(static_cast<double>(sink[h]) - M);
    for (double v : s) denom += std::exp(v - M);
    for (int i = 0; i < D; ++i) {
      double acc = 0.0, mag = 0.0;
      for (size_t j = 0; j < s.size(); ++j) {
        const double p = std::exp(s[j] - M), v = bf16_to_f32(valid[j][i]);
        acc += p * v;
        mag += p * std::fabs(v);
      }
      o[h * D + i] = acc / denom;
      tol[h * D + i] = std::ldexp(mag / denom, -8) + bf16_ulp(acc / denom) + 1e-30;
    }
  }
}

struct Candidates {
  std::vector<bf16> storage;
  std::vector<const bf16*> rows;
};

// n rows of D values; rows listed in `holes` become nullptr.
Candidates make_rows(int64_t n, int D, float sigma, uint32_t seed, const std::vector<int64_t>& holes) {
  Candidates c;
  const std::vector<float> v = random_bf16_values(n * D, sigma, seed);
  c.storage.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) c.storage[i] = f32_to_bf16(v[i]);
  for (int64_t j = 0; j < n; ++j) c.rows.push_back(&c.storage[j * D]);
  for (int64_t j : holes) c.rows[j] = nullptr;
  return c;
}

void check(const std::vector<float>& q, int H, int D, const Candidates& c, const std::vector<float>& sink,
           float scale) {
  std::vector<float> o(static_cast<size_t>(H) * D, NAN);
  sparse_attention(q.data(), H, D, c.rows, sink.data(), scale, o.data());
  std::vector<double> ref, tol;
  reference(q, H, D, c.rows, sink.data(), scale, ref, tol);
  for (size_t i = 0; i < o.size(); ++i) {
    ASSERT_EQ(o[i], round_bf16(o[i])) << i;
    ASSERT_LE(std::fabs(o[i] - ref[i]), tol[i]) << "element " << i << " got " << o[i] << " want " << ref[i];
  }
}

TEST(SparseAttention, MatchesSinkSoftmaxAcrossBlocks) {
  const int H = 3, D = 40;
  const float scale = static_cast<float>(1.0 / std::sqrt(40.0));
  // 150 candidates: two full 64-blocks and a tail; q large enough for a peaked softmax.
  const Candidates c = make_rows(150, D, 1.0f, 1, {});
  const std::vector<float> q = random_bf16_values(H * D, 2.0f, 2);
  check(q, H, D, c, {0.5f, -3.0f, 2.0f}, scale);
}

TEST(SparseAttention, NullCandidatesAreIgnored) {
  const int H = 2, D = 24;
  const float scale = 0.2f;
  // Holes: the whole first block, scattered ones, and the last row.
  std::vector<int64_t> holes;
  for (int64_t j = 0; j < 64; ++j) holes.push_back(j);
  for (int64_t j : {70, 71, 100, 129, 140}) holes.push_back(j);
  const Candidates c = make_rows(141, D, 1.0f, 3, holes);
  const std::vector<float> q = random_bf16_values(H * D, 1.5f, 4);
  check(q, H, D, c, {0.0f, 1.0f}, scale);
  // A hole never contributes: poisoning the storage behind a nullptr changes nothing.
  Candidates poisoned = c;
  for (size_t j = 0; j < poisoned.rows.size(); ++j) {
    poisoned.rows[j] = c.rows[j] ? &poisoned.storage[j * D] : nullptr;
    if (!c.rows[j])
      for (int i = 0; i < D; ++i) poisoned.storage[j * D + i] = f32_to_bf16(1e30f);
  }
  std::vector<float> o1(H * D), o2(H * D);
  sparse_attention(q.data(), H, D, c.rows, std::vector<float>{0.0f, 1.0f}.data(), scale, o1.data());
  sparse_attention(q.data(), H, D, poisoned.rows, std::vector<float>{0.0f, 1.0f}.data(), scale, o2.data());
  EXPECT_EQ(o1, o2);
}

TEST(SparseAttention, SinkOnlyInTheDenominator) {
  const int H = 1, D = 16;
  const Candidates c = make_rows(1, D, 1.0f, 5, {});
  const std::vector<float> q = random_bf16_values(D, 1.0f, 6);
  double s0 = 0.0;
  for (int i = 0; i < D; ++i) s0 += static_cast<double>(q[i]) * bf16_to_f32(c.storage[i]);
  const float scale = 0.25f;
  std::vector<float> o(D);
  // No sink (-inf): one candidate gets weight exactly 1, so o == v.
  std::vector<float> sink{-std::numeric_limits<float>::infinity()};
  sparse_attention(q.data(), H, D, c.rows, sink.data(), scale, o.data());
  for (int i = 0; i < D; ++i) EXPECT_EQ(o[i], bf16_to_f32(c.storage[i]));
  // Sink logit equal to the score: denominator 2, o == v / 2 (the sink has no value vector).
  sink[0] = static_cast<float>(s0 * scale);
  sparse_attention(q.data(), H, D, c.rows, sink.data(), scale, o.data());
  for (int i = 0; i < D; ++i) EXPECT_NEAR(o[i], bf16_to_f32(c.storage[i]) / 2, bf16_ulp(bf16_to_f32(c.storage[i])));
  // Sink far above the score (not part of the max): o shrinks by e^(sink - s).
  sink[0] = static_cast<float>(s0 * scale + std::log(1000.0));
  sparse_attention(q.data(), H, D, c.rows, sink.data(), scale, o.data());
  for (int i = 0; i < D; ++i) {
    const double want = bf16_to_f32(c.storage[i]) / 1001.0;
    EXPECT_NEAR(o[i], want, std::fabs(want) * 1e-2 + 1e-30) << i;
  }
  check(q, H, D, c, sink, scale);
}

TEST(SparseAttention, SinkIsNotPartOfTheRunningMax) {
  // One candidate with an exactly known score s = v[0] (q = e_0, scale 1) and a sink slightly
  // above it. The reference kernel keeps M = s, so the candidate's probability is exactly 1 and
  // o = bf16(v / (1 + e^(sink - s))). Taking the sink into the max would round e^(s - sink) to
  // bf16 before P.V and change many outputs.
  const int D = 64;
  const Candidates c = make_rows(1, D, 1.0f, 8, {});
  std::vector<float> q(D, 0.0f);
  q[0] = 1.0f;
  const float s = bf16_to_f32(c.storage[0]);
  for (float delta : {0.1f, 0.37f, 2.5f}) {
    const std::vector<float> sink{s + delta};
    std::vector<float> o(D);
    sparse_attention(q.data(), 1, D, c.rows, sink.data(), 1.0f, o.data());
    const float denom = 1.0f + std::exp(sink[0] - s);
    for (int i = 0; i < D; ++i) ASSERT_EQ(o[i], round_bf16(bf16_to_f32(c.storage[i]) / denom)) << delta << " " << i;
  }
}

TEST(SparseAttention, NoCandidatesGivesZeroNotNan) {
  const int H = 2, D = 8;
  std::vector<const bf16*> rows(5, nullptr);
  const std::vector<float> q = random_bf16_values(H * D, 1.0f, 7);
  std::vector<float> o(H * D, NAN), sink{0.0f, -1.0f};
  sparse_attention(q.data(), H, D, rows, sink.data(), 0.3f, o.data());
  for (float v : o) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace dsv4::model

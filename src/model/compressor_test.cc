// KV compressor against a direct formulation of spec §2.7 from the whole token history (no
// streaming state): per channel a softmax over the block's candidates (overlap: A halves of block
// j-1 and B halves of block j; block 0 has no previous half), pooled -> bf16, RMSNorm, RoPE at
// position j*m, then FP8 round trip of the non-RoPE dims (main) or Hadamard + FP4 (indexer).
// The reference pools and normalises in double; the engine in fp32. A one-ulp bf16 difference
// before the FP8/FP4 cast can move a value to the neighbouring grid point, so a few elements may
// differ by one quantization step; everything else must be bitwise equal.
#include "model/compressor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/test_values.h"

namespace dsv4::model {
namespace {

using test_values::to_bf16;

// Power-of-two scale 2^ceil(log2(amax * fp32(1/qmax))) with the amax floor (§2.11), via frexp.
float pow2_scale(float amax, float floor, float qmax) {
  const float v = std::max(amax, floor) * (1.0f / qmax);
  int ex = 0;
  const float mant = std::frexp(v, &ex);
  return std::ldexp(1.0f, mant == 0.5f ? ex - 1 : ex);
}

struct Reference {
  std::vector<float> entry;   // bf16 values
  std::vector<float> step;    // the quantization step allowed where a rounding may flip
};

struct Case {
  int m, dc, rope_dim;
  bool overlap, indexer;
  int width() const { return (overlap ? 2 : 1) * dc; }
};

ModelConfig rope_config(int rope_dim) {
  ModelConfig c;
  c.qk_rope_head_dim = rope_dim;
  c.compress_rope_theta = 160000.0;
  c.rope_factor = 16.0;
  c.original_max_position_embeddings = 4096;
  return c;
}

Reference reference_entry(const Case& s, int64_t j, const std::vector<float>& u, const std::vector<float>& z,
                          const std::vector<float>& ape, const std::vector<float>& norm, const RopeTable& rope,
                          float eps) {
  const int m = s.m, dc = s.dc, wd = s.width();
  std::vector<double> pooled(dc);
  for (int c = 0; c < dc; ++c) {
    std::vector<double> score, value;
    for (int r = 0; r < m; ++r) {
      if (s.overlap) {
        if (j > 0) {  // A half of block j-1
          const int64_t t = (j - 1) * m + r;
          score.push_back(static_cast<double>(z[t * wd + c]) + ape[r * wd + c]);
          value.push_back(u[t * wd + c]);
        }
        const int64_t t = j * m + r;  // B half of block j
        score.push_back(static_cast<double>(z[t * wd + dc + c]) + ape[r * wd + dc + c]);
        value.push_back(u[t * wd + dc + c]);
      } else {
        const int64_t t = j * m + r;
        score.push_back(static_cast<double>(z[t * wd + c]) + ape[r * wd + c]);
        value.push_back(u[t * wd + c]);
      }
    }
    double mx = -INFINITY, sum = 0.0, acc = 0.0;
    for (double v : score) mx = std::max(mx, v);
    for (double v : score) sum += std::exp(v - mx);
    for (size_t i = 0; i < score.size(); ++i) acc += std::exp(score[i] - mx) / sum * value[i];
    pooled[c] = to_bf16(acc);
  }
  double ss = 0.0;
  for (double v : pooled) ss += v * v;
  const double rn = 1.0 / std::sqrt(ss / dc + eps);
  Reference ref;
  ref.entry.resize(dc);
  ref.step.assign(dc, 0.0f);
  for (int c = 0; c < dc; ++c) ref.entry[c] = to_bf16(norm[c] * pooled[c] * rn);
  // RoPE at the block's first position, fp32 angle (§2.5), rotation in double.
  const int64_t pos = j * m;
  for (int i = 0; i < s.rope_dim / 2; ++i) {
    const double a = static_cast<float>(pos) * rope.freqs()[i];
    float* p = &ref.entry[dc - s.rope_dim + 2 * i];
    const double re = p[0], im = p[1];
    p[0] = to_bf16(re * std::cos(a) - im * std::sin(a));
    p[1] = to_bf16(re * std::sin(a) + im * std::cos(a));
    ref.step[dc - s.rope_dim + 2 * i] = ref.step[dc - s.rope_dim + 2 * i + 1] =
        static_cast<float>(std::ldexp(std::hypot(re, im), -7));
  }
  if (!s.indexer) {  // FP8 round trip of the non-RoPE dims, blocks of 64
    for (int b = 0; b < dc - s.rope_dim; b += 64) {
      float amax = 0.0f;
      for (int i = b; i < b + 64; ++i) amax = std::max(amax, std::fabs(ref.entry[i]));
      const float sc = pow2_scale(amax, 1e-4f, 448.0f);
      for (int i = b; i < b + 64; ++i) {
        const float q = fp8_e4m3_to_f32(f32_to_fp8_e4m3(std::clamp(ref.entry[i] / sc, -448.0f, 448.0f)));
        ref.entry[i] = round_bf16(q * sc);
        ref.step[i] = std::fabs(ref.entry[i]) / 8 + sc / 512;
      }
    }
  } else {  // Hadamard (Sylvester, scale dc^-0.5) of all dims, then FP4 round trip, blocks of 32
    std::vector<float> h(dc);
    for (int i = 0; i < dc; ++i) {
      double acc = 0.0;
      for (int k = 0; k < dc; ++k) acc += (std::popcount(static_cast<unsigned>(i & k)) % 2 ? -1.0 : 1.0) * ref.entry[k];
      h[i] = to_bf16(acc / std::sqrt(static_cast<double>(dc)));
    }
    for (int b = 0; b < dc; b += 32) {
      float amax = 0.0f;
      for (int i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(h[i]));
      const float sc = pow2_scale(amax, 6.0f * std::ldexp(1.0f, -126), 6.0f);
      for (int i = b; i < b + 32; ++i) {
        const float q = fp4_e2m1_to_f32(f32_to_fp4_e2m1(std::clamp(h[i] / sc, -6.0f, 6.0f)));
        ref.entry[i] = round_bf16(q * sc);
        ref.step[i] = std::fabs(ref.entry[i]) / 2 + sc / 2;
      }
    }
  }
  return ref;
}

std::vector<float> random_floats(int64_t n, float mean, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void run_case(const Case& s, int64_t n_tokens, uint32_t seed) {
  const int wd = s.width();
  const std::vector<float> u = random_floats(n_tokens * wd, 0.0f, 1.0f, seed);
  const std::vector<float> z = random_floats(n_tokens * wd, 0.0f, 2.0f, seed + 1);
  const std::vector<float> ape = random_floats(static_cast<int64_t>(s.m) * wd, 0.0f, 0.5f, seed + 2);
  std::vector<float> norm_f = random_floats(s.dc, 1.0f, 0.2f, seed + 3);
  std::vector<bf16> norm(s.dc);
  for (int i = 0; i < s.dc; ++i) {
    norm_f[i] = round_bf16(norm_f[i]);
    norm[i] = f32_to_bf16(norm_f[i]);
  }
  CompressorWeights w;
  w.ape = ape.data();
  w.norm = norm.data();
  w.head_dim = s.dc;
  w.ratio = s.m;
  w.overlap = s.overlap;
  CompressorState st;
  st.init(s.m, s.dc, s.overlap);
  const RopeTable rope(rope_config(s.rope_dim), true);
  const float eps = 1e-6f;

  std::vector<float> entry(s.dc);
  int64_t emitted = 0, compared = 0, flips = 0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const bool done = compressor_step(w, st, &u[t * wd], &z[t * wd], t, rope, s.rope_dim, eps, s.indexer, entry.data());
    ASSERT_EQ(done, (t + 1) % s.m == 0) << "t=" << t;
    if (!done) continue;
    const int64_t j = t / s.m;
    ASSERT_EQ(j, emitted);
    ++emitted;
    const Reference ref = reference_entry(s, j, u, z, ape, norm_f, rope, eps);
    for (int c = 0; c < s.dc; ++c) {
      ++compared;
      if (entry[c] == ref.entry[c]) continue;
      ++flips;
      ASSERT_LE(std::fabs(entry[c] - ref.entry[c]), ref.step[c])
          << "entry " << j << " channel " << c << " got " << entry[c] << " want " << ref.entry[c];
    }
  }
  EXPECT_EQ(emitted, n_tokens / s.m);
  EXPECT_LE(flips, compared / 50) << flips << " of " << compared << " elements differ";
}

TEST(Compressor, OverlapModeMainMatchesSpec) { run_case({4, 80, 16, true, false}, 13, 100); }

TEST(Compressor, PlainModeMainMatchesSpec) {
  run_case({8, 80, 16, false, false}, 19, 200);
  run_case({16, 144, 16, false, false}, 35, 300);  // two FP8 blocks
}

TEST(Compressor, IndexerModeHadamardFp4MatchesSpec) { run_case({4, 64, 16, true, true}, 13, 400); }

TEST(Compressor, EntryZeroIgnoresThePreviousHalfOfAFreshState) {
  // Entry 0 of an overlap compressor must not see the "previous block" rows: the fresh state's
  // -inf scores give them zero weight. Feeding the same block twice into fresh states with
  // different values in the previous-half kv rows must give the same entry 0.
  const Case s{4, 80, 16, true, false};
  const int wd = s.width();
  const std::vector<float> ape = random_floats(4 * wd, 0.0f, 0.5f, 1);
  std::vector<bf16> norm(s.dc, f32_to_bf16(1.0f));
  CompressorWeights w;
  w.ape = ape.data();
  w.norm = norm.data();
  w.head_dim = s.dc;
  w.ratio = 4;
  w.overlap = true;
  const RopeTable rope(rope_config(16), true);
  const std::vector<float> u = random_floats(4 * wd, 0.0f, 1.0f, 2), z = random_floats(4 * wd, 0.0f, 1.0f, 3);
  std::vector<float> e1(s.dc), e2(s.dc);
  CompressorState a, b;
  a.init(4, s.dc, true);
  b.init(4, s.dc, true);
  // b's previous-half kv rows hold garbage values (scores stay -inf): they must not leak in.
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < wd; ++c) b.kv[r * wd + c] = 1e3f;
  for (int t = 0; t < 4; ++t) {
    compressor_step(w, a, &u[t * wd], &z[t * wd], t, rope, 16, 1e-6f, false, e1.data());
    compressor_step(w, b, &u[t * wd], &z[t * wd], t, rope, 16, 1e-6f, false, e2.data());
  }
  EXPECT_EQ(e1, e2);
}

}  // namespace
}  // namespace dsv4::model

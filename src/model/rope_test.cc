// RoPE tables against spec §2.5 written out in double: window layers f_i = base^(-2i/r); compressed
// layers the YaRN ramp between low = floor(corr(beta_fast)) and high = ceil(corr(beta_slow)) with
// corr(b) = r ln(L / (2 pi b)) / (2 ln base); angles are the fp32 product fp32(pos) * fp32(f_i).
#include "model/rope.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace dsv4::model {
namespace {

ModelConfig real_v4_rope_config() {
  ModelConfig c;
  c.qk_rope_head_dim = 64;
  c.rope_theta = 10000.0;
  c.compress_rope_theta = 160000.0;
  c.rope_scaling_type = "yarn";
  c.rope_factor = 16.0;
  c.original_max_position_embeddings = 65536;
  c.beta_fast = 32.0;
  c.beta_slow = 1.0;
  return c;
}

double corr_dim(double r, double base, double orig, double beta) {
  return r * std::log(orig / (beta * 2.0 * M_PI)) / (2.0 * std::log(base));
}

// Relative closeness of the fp32 table to the double formula (fp32 pow/divide: a few ulps).
void expect_rel_close(double got, double want, const char* what, int i) {
  EXPECT_LE(std::fabs(got - want), 4e-7 * std::fabs(want)) << what << " pair " << i << " got " << got << " want " << want;
}

TEST(Rope, WindowLayerFrequenciesArePlainPowers) {
  const ModelConfig c = real_v4_rope_config();
  const RopeTable t(c, false);
  ASSERT_EQ(t.n_pairs(), 32);
  for (int i = 0; i < 32; ++i) expect_rel_close(t.freqs()[i], std::pow(10000.0, -2.0 * i / 64), "window", i);
}

TEST(Rope, CompressedLayerYarnRampOfTheRealConfig) {
  const ModelConfig c = real_v4_rope_config();
  const double low = std::max(std::floor(corr_dim(64, 160000, 65536, 32)), 0.0);
  const double high = std::min(std::ceil(corr_dim(64, 160000, 65536, 1)), 63.0);
  ASSERT_EQ(low, 15.0);  // spec §2.5: corr values 15.45 and 24.71
  ASSERT_EQ(high, 25.0);
  const RopeTable t(c, true);
  ASSERT_EQ(t.n_pairs(), 32);
  for (int i = 0; i < 32; ++i) {
    const double g = std::pow(160000.0, -2.0 * i / 64);
    if (i <= 15) {
      expect_rel_close(t.freqs()[i], g, "unchanged", i);
    } else if (i >= 25) {
      expect_rel_close(t.freqs()[i], g / 16, "divided", i);
    } else {
      const double ramp = (i - low) / (high - low);
      expect_rel_close(t.freqs()[i], g * (1 - ramp) + g / 16 * ramp, "blend", i);
    }
  }
  // And it is not the window table: a different base and the ramp.
  const RopeTable w(c, false);
  EXPECT_NE(t.freqs()[1], w.freqs()[1]);
}

TEST(Rope, SmallConfigUsesTheCorrectionDimFormula) {
  // r = 16, base 5000, L = 2048, betas 8 / 1: corr = 3.48 / 5.44 -> low 3, high 6.
  ModelConfig c = real_v4_rope_config();
  c.qk_rope_head_dim = 16;
  c.compress_rope_theta = 5000.0;
  c.original_max_position_embeddings = 2048;
  c.beta_fast = 8.0;
  c.beta_slow = 1.0;
  c.rope_factor = 4.0;
  const double low = std::max(std::floor(corr_dim(16, 5000, 2048, 8)), 0.0);
  const double high = std::min(std::ceil(corr_dim(16, 5000, 2048, 1)), 15.0);
  ASSERT_EQ(low, 3.0);
  ASSERT_EQ(high, 6.0);
  const RopeTable t(c, true);
  ASSERT_EQ(t.n_pairs(), 8);
  for (int i = 0; i < 8; ++i) {
    const double g = std::pow(5000.0, -2.0 * i / 16);
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    expect_rel_close(t.freqs()[i], g * (1 - ramp) + g / 4 * ramp, "small", i);
  }
}

TEST(Rope, NoYarnWithoutOriginalLength) {
  ModelConfig c = real_v4_rope_config();
  c.original_max_position_embeddings = 0;
  const RopeTable t(c, true);
  for (int i = 0; i < 32; ++i) expect_rel_close(t.freqs()[i], std::pow(160000.0, -2.0 * i / 64), "no-yarn", i);
}

TEST(Rope, AnglesAreFp32ProductsAtLargePositions) {
  const ModelConfig c = real_v4_rope_config();
  for (bool compressed : {false, true}) {
    const RopeTable t(c, compressed);
    std::vector<float> cs(32), sn(32);
    int fp32_matters = 0;
    for (int64_t pos : {int64_t{0}, int64_t{1}, int64_t{4093}, int64_t{1000003}, int64_t{1048575}}) {
      t.at(pos, cs.data(), sn.data());
      for (int i = 0; i < 32; ++i) {
        const float angle = static_cast<float>(pos) * t.freqs()[i];  // fp32 outer product (§2.5)
        EXPECT_NEAR(cs[i], std::cos(static_cast<double>(angle)), 2e-6) << pos << " " << i;
        EXPECT_NEAR(sn[i], std::sin(static_cast<double>(angle)), 2e-6) << pos << " " << i;
        const double exact = static_cast<double>(pos) * t.freqs()[i];
        fp32_matters += std::fabs(std::cos(exact) - std::cos(static_cast<double>(angle))) > 1e-3;
      }
    }
    // At ~1M positions the fp32 angle differs visibly from the double one, so the check above
    // really pins the fp32 product.
    EXPECT_GT(fp32_matters, 0);
  }
}

}  // namespace
}  // namespace dsv4::model

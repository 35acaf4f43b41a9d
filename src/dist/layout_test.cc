// The layout arithmetic every rank computes on its own: splits, balance, expert ownership, and
// what each placement loads.
#include "dist/layout.h"

#include <gtest/gtest.h>

#include <set>

#include "io/config.h"
#include "model/schema.h"
#include "model/weights.h"

namespace dsv4::dist {
namespace {

ModelConfig config(const std::string& path) {
  auto c = load_model_config(path);
  EXPECT_TRUE(c.ok()) << c.message();
  return *c;
}
ModelConfig flash() { return config(std::string(DSV4_SOURCE_DIR) + "/configs/v4-flash.json"); }
ModelConfig tiny() { return config(std::string(DSV4_SHARED_DIR) + "/golden/tiny-flash/checkpoint"); }

TEST(ExpertOwner, ContiguousBalancedRangesForAnyMemberCount) {
  for (int64_t E : {4, 7, 64, 256, 384})
    for (int N = 1; N <= 9 && N <= E; ++N) {
      std::vector<int64_t> count(N, 0);
      int last = 0;
      for (int64_t e = 0; e < E; ++e) {
        const int o = model::Placement::expert_owner(e, E, N);
        ASSERT_GE(o, last) << "ranges are contiguous and increasing";
        ASSERT_LT(o, N);
        last = o;
        ++count[o];
      }
      for (int j = 0; j < N; ++j) {  // member j holds [floor(jE/N), floor((j+1)E/N))
        EXPECT_EQ(count[j], (j + 1) * E / N - j * E / N) << "E=" << E << " N=" << N << " member " << j;
        EXPECT_GE(count[j], E / N);
        EXPECT_LE(count[j], E / N + 1);
      }
    }
}

TEST(Layout, BalancedSplitCoversEveryLayerOnceAndMinimisesTheLargestStage) {
  const ModelConfig c = flash();
  for (int pp : {1, 2, 3, 4, 7}) {
    auto lo = make_layout(c, pp, 1, "");
    ASSERT_TRUE(lo.ok()) << lo.message();
    ASSERT_EQ(lo->stage_begin.size(), static_cast<size_t>(pp + 1));
    EXPECT_EQ(lo->stage_begin.front(), 0);
    EXPECT_EQ(lo->stage_begin.back(), c.num_hidden_layers);
    int64_t total = 0, largest = 0;
    for (int s = 0; s < pp; ++s) {
      EXPECT_LT(lo->stage_begin[s], lo->stage_begin[s + 1]) << "every stage has a layer";
      total += lo->stage_bytes[s];
      largest = std::max(largest, lo->stage_bytes[s]);
    }
    int64_t all = 0;
    for (const TensorSpec& t : expected_tensors(c)) all += t.nbytes();
    EXPECT_EQ(total, all) << "every weight byte is on exactly one stage";
    // No single-layer move across a cut makes the largest stage smaller (a local optimum of the
    // exact DP; a cheap check that could fail if the cuts were off by one).
    for (int s = 1; s < pp; ++s)
      for (int delta : {-1, 1}) {
        std::vector<int> counts;
        for (int k = 0; k < pp; ++k) counts.push_back(lo->stage_begin[k + 1] - lo->stage_begin[k]);
        counts[s - 1] += delta;
        counts[s] -= delta;
        if (counts[s - 1] < 1 || counts[s] < 1) continue;
        std::string split;
        for (int k = 0; k < pp; ++k) split += (k ? "," : "") + std::to_string(counts[k]);
        auto alt = make_layout(c, pp, 1, split);
        ASSERT_TRUE(alt.ok()) << alt.message();
        int64_t alt_largest = 0;
        for (int64_t b : alt->stage_bytes) alt_largest = std::max(alt_largest, b);
        EXPECT_GE(alt_largest, largest) << "pp " << pp << " split " << split;
      }
  }
}

TEST(Layout, ExplicitSplitAndItsErrors) {
  const ModelConfig c = tiny();
  const int L = c.num_hidden_layers;
  auto lo = make_layout(c, 2, 1, "1," + std::to_string(L - 1));
  ASSERT_TRUE(lo.ok()) << lo.message();
  EXPECT_EQ(lo->stage_begin, (std::vector<int>{0, 1, L}));
  EXPECT_NE(make_layout(c, L + 1, 1, "").message().find("more pipeline stages than the checkpoint has layers"),
            std::string::npos);
  EXPECT_NE(make_layout(c, 2, 1, "1,1").message().find("adds up to 2 layers"), std::string::npos);
  EXPECT_NE(make_layout(c, 2, 1, "3").message().find("gives 1 stages"), std::string::npos);
  EXPECT_NE(make_layout(c, 2, 1, "a,b").message().find("not a positive layer count"), std::string::npos);
  EXPECT_NE(make_layout(c, 2, 1, "0," + std::to_string(L)).message().find("not a positive"), std::string::npos);
  EXPECT_NE(make_layout(c, 1, c.n_routed_experts + 1, "").message().find("more expert-parallel ranks"),
            std::string::npos);
  EXPECT_FALSE(make_layout(c, 0, 1, "").ok());
}

TEST(Layout, RanksAndPlacements) {
  const ModelConfig c = tiny();
  auto lo = make_layout(c, 2, 3, "");
  ASSERT_TRUE(lo.ok()) << lo.message();
  EXPECT_EQ(lo->ranks(), 6);
  for (int r = 0; r < 6; ++r) {
    const model::Placement p = lo->placement(r);
    EXPECT_EQ(p.owns_ends, r < 3);
    EXPECT_EQ(p.owns_attention, r % 3 == 0);
    EXPECT_EQ(p.expert_member, r % 3);
    EXPECT_EQ(p.layer_begin, lo->stage_begin[r / 3]);
  }
}

// Across the ranks of any layout, every checkpoint tensor is loaded by some rank, each routed
// expert by exactly one, and the replicated parts by the leaders only.
TEST(Layout, PlacementsTogetherLoadEveryTensorAndEachExpertOnce) {
  for (const ModelConfig& c : {tiny(), flash()})
    for (auto [pp, ep] : {std::pair{1, 1}, {2, 1}, {1, 3}, {2, 2}, {3, 5}}) {
      if (pp > c.num_hidden_layers) continue;
      auto lo = make_layout(c, pp, ep, "");
      ASSERT_TRUE(lo.ok()) << lo.message();
      int64_t sum = 0;
      for (int r = 0; r < lo->ranks(); ++r) sum += placement_bytes(c, lo->placement(r));
      int64_t all = 0;
      for (const TensorSpec& t : expected_tensors(c)) {
        all += t.nbytes();
        int holders = 0;
        for (int r = 0; r < lo->ranks(); ++r) holders += model::placement_wants(c, lo->placement(r), t.name);
        ASSERT_GE(holders, 1) << t.name << " pp " << pp << " ep " << ep;
        if (t.name.find(".ffn.experts.") != std::string::npos) EXPECT_EQ(holders, 1) << t.name;
      }
      EXPECT_GE(sum, all);
      if (ep == 1) EXPECT_EQ(sum, all) << "a pure pipeline holds every byte once";
    }
}

}  // namespace
}  // namespace dsv4::dist

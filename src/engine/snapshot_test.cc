// Snapshots: continuing from a snapshot taken at position P gives bitwise the logits of never
// having stopped, for P just before / on / after the window size and the ratio-4 and ratio-128
// block ends and the row stores' block ends (64 rows: position 256 at ratio 4, where snapshots
// start to share the rows written before them), with snapshots falling inside the engine's
// natural prefill chunks; and a chat's
// second turn restored from the first turn's final snapshot prefills only the new tokens.
#include "engine/engine_test_util.h"

namespace dsv4::engine {
namespace {

using namespace testing;

TEST(Snapshot, ContinuingGivesTheSameLogits) {
  const model::Model& m = golden_model("tiny-flash");
  const int W = m.config().sliding_window;  // 16 in tiny-flash; ratios 4 and 128
  const int64_t block_end = 4 * model::RowStore::kBlockRows;
  const std::vector<int64_t> at = {3, 4, 5, W - 1, W, W + 1, 77, 127, 128, 129, block_end - 1, block_end, block_end + 1, 301};
  const auto prompt = random_tokens(320, m.config().vocab_size, 21);
  LogitsRecorder rec;
  EngineOptions o;
  o.step_tokens = 50;  // chunk ends at 50, 100: every snapshot falls inside a natural chunk
  o.speculative = 0;
  rec.attach(o);
  Engine e(m, nullptr, o);
  Request base = greedy(prompt, 6);
  auto ref_stream = e.submit(base);
  Result ref = collect(*ref_stream);
  const auto ref_rows = rec.of(ref_stream->id());

  Request with = base;
  with.snapshot_at = at;
  Result snaps = collect(*e.submit(with));
  ASSERT_EQ(snaps.snapshots.size(), at.size());
  EXPECT_EQ(snaps.tokens[0], ref.tokens[0]);  // taking snapshots changes nothing
  for (size_t i = 0; i < at.size(); ++i) {
    const auto& s = snaps.snapshots[i];
    ASSERT_EQ(static_cast<int64_t>(s->tokens.size()), at[i]);
    Request cont = base;
    cont.snapshot = s;
    auto cs = e.submit(cont);
    Result r = collect(*cs);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.tokens[0], ref.tokens[0]) << "snapshot at " << at[i];
    EXPECT_EQ(r.usage.cached_tokens, at[i]);
    EXPECT_EQ(r.usage.prefilled_tokens, static_cast<int64_t>(prompt.size()) - at[i]);
    const auto rows = rec.of(cs->id());
    ASSERT_EQ(rows.size(), ref_rows.size());
    for (size_t k = 0; k < rows.size(); ++k)
      EXPECT_TRUE(same_bits(rows[k].second, ref_rows[k].second)) << "snapshot at " << at[i] << ", row " << k;
  }
  // Sizes: the fixed part does not grow; the growing part is the compressed rows + indexer keys.
  const auto& a = snaps.snapshots.front();
  const auto& b = snaps.snapshots.back();
  EXPECT_EQ(a->fixed_bytes, b->fixed_bytes);
  EXPECT_GT(b->growing_bytes, a->growing_bytes);
  std::printf("snapshot of tiny-flash: fixed %zu bytes, %zu bytes of compressed rows at position %zu\n",
              b->fixed_bytes, b->growing_bytes, b->tokens.size());
}

TEST(Snapshot, WholePromptFromSnapshotAndSecondTurn) {
  const model::Model& m = golden_model("tiny-pro");
  EngineOptions o;
  o.speculative = 0;
  LogitsRecorder rec;
  rec.attach(o);
  Engine e(m, nullptr, o);
  const int V = static_cast<int>(m.config().vocab_size);
  const auto turn1 = random_tokens(37, V, 31);
  Request r1 = greedy(turn1, 9);
  r1.snapshot_at_end = true;
  Result a = collect(*e.submit(r1));
  ASSERT_TRUE(a.end_snapshots[0]);
  const auto& snap = a.end_snapshots[0];
  // Everything but the last generated token is consumed.
  EXPECT_EQ(snap->tokens.size(), turn1.size() + a.tokens[0].size() - 1);
  std::vector<int32_t> turn2 = turn1;
  turn2.insert(turn2.end(), a.tokens[0].begin(), a.tokens[0].end());
  const auto more = random_tokens(11, V, 32);
  turn2.insert(turn2.end(), more.begin(), more.end());
  Request r2 = greedy(turn2, 5);
  auto fresh = e.submit(r2);
  Result full = collect(*fresh);
  r2.snapshot = snap;
  auto resumed = e.submit(r2);
  Result cont = collect(*resumed);
  EXPECT_EQ(cont.tokens, full.tokens);
  EXPECT_EQ(cont.usage.prefilled_tokens, 12);  // the reply's last token + 11 new ones
  EXPECT_EQ(cont.usage.cached_tokens, static_cast<int64_t>(snap->tokens.size()));
  const auto x = rec.of(fresh->id()), y = rec.of(resumed->id());
  ASSERT_EQ(x.size(), y.size());
  for (size_t k = 0; k < x.size(); ++k) EXPECT_TRUE(same_bits(x[k].second, y[k].second)) << "row " << k;
  // A snapshot covering the whole prompt continues from its stored logits.
  Request r3 = greedy(snap->tokens, 4);
  r3.snapshot = snap;
  Result whole = collect(*e.submit(r3));
  EXPECT_EQ(whole.usage.prefilled_tokens, 0);
  EXPECT_EQ(whole.tokens[0][0], a.tokens[0].back());
  // A snapshot that is not a prefix of the prompt is refused.
  Request bad = greedy(more, 2);
  bad.snapshot = snap;
  EXPECT_NE(collect(*e.submit(bad)).error.find("not a prefix"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::engine

// The snapshot record: bitwise round trip (and continuing from a decoded snapshot gives the same
// logits as never having stopped, at the window and compression-block boundaries), and every kind of damage is an error: any flipped byte, any
// truncation, another model's id, another model's shapes.
#include "cache/snapshot_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "cache/cache_test_util.h"
#include "cache/model_identity.h"

namespace dsv4::cache {
namespace {

using namespace testing;

TEST(SnapshotFile, RoundTripIsBitwiseAndContinuesIdentically) {
  const model::Model& m = golden_model("tiny-flash");
  const auto prompt = random_tokens(140, m.config().vocab_size, 5);
  // Around the window (16 in tiny-flash) and both compression ratios (4, 128), and partial final
  // blocks of either compressor.
  const int W = m.config().sliding_window;
  const std::vector<int64_t> at = {3, 4, 5, W - 1, W, W + 1, 77, 127, 128, 129, 139};
  const auto snaps = snapshots_of(m, prompt, at);
  ASSERT_EQ(snaps.size(), at.size());
  const uint64_t id = model_fingerprint(m);
  engine::EngineOptions o;
  o.speculative = 0;
  engine::testing::LogitsRecorder rec;
  rec.attach(o);
  engine::Engine e(m, nullptr, o);
  auto ref_stream = e.submit(greedy(prompt, 4));
  const auto ref = collect(*ref_stream);
  const auto ref_rows = rec.of(ref_stream->id());
  for (const auto& s : snaps) {
    const std::string bytes = encode_snapshot(*s, id);
    auto d = decode_snapshot(bytes, m, id);
    ASSERT_TRUE(d.ok()) << d.message();
    EXPECT_TRUE(same_snapshot(**d, *s)) << "at " << s->tokens.size();
    EXPECT_EQ(encode_snapshot(**d, id), bytes);
    engine::Request r = greedy(prompt, 4);
    r.snapshot = *d;
    auto st = e.submit(r);
    const auto got = collect(*st);
    ASSERT_TRUE(got.error.empty()) << got.error;
    EXPECT_EQ(got.tokens[0], ref.tokens[0]);
    EXPECT_EQ(got.usage.cached_tokens, static_cast<int64_t>(s->tokens.size()));
    const auto rows = rec.of(st->id());
    ASSERT_EQ(rows.size(), ref_rows.size());
    for (size_t k = 0; k < rows.size(); ++k) EXPECT_TRUE(same_bits(rows[k].second, ref_rows[k].second)) << k;
  }
}

TEST(SnapshotFile, EveryDamageIsAnError) {
  const model::Model& m = golden_model("tiny-flash");
  const auto snaps = snapshots_of(m, random_tokens(40, m.config().vocab_size, 6), {40});
  ASSERT_EQ(snaps.size(), 1u);
  const uint64_t id = model_fingerprint(m);
  const std::string good = encode_snapshot(*snaps[0], id);
  ASSERT_TRUE(decode_snapshot(good, m, id).ok());
  // Every truncation (a stride through the record, and the last bytes one by one).
  for (size_t n = 0; n < good.size(); n += (n + 64 < good.size() ? 61 : 1))
    EXPECT_FALSE(decode_snapshot(std::string_view(good).substr(0, n), m, id).ok()) << "truncated to " << n;
  EXPECT_FALSE(decode_snapshot(good + "x", m, id).ok());
  // A flipped bit anywhere (header, tokens, payload, checksums).
  for (size_t i = 0; i < good.size(); i += 37) {
    std::string bad = good;
    bad[i] ^= 0x10;
    EXPECT_FALSE(decode_snapshot(bad, m, id).ok()) << "byte " << i;
  }
  // Another model's id, and another model's shapes under a matching id.
  auto other = decode_snapshot(good, m, id ^ 1);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.message().find("another model"), std::string::npos) << other.message();
  const model::Model& pro = golden_model("tiny-pro");
  EXPECT_NE(model_fingerprint(pro), id);
  auto shapes = decode_snapshot(good, pro, id);
  ASSERT_FALSE(shapes.ok());
  std::printf("tiny-pro reading a tiny-flash snapshot: %s\n", shapes.message().c_str());
  // The header alone (what a directory scan reads) needs only its own bytes.
  auto h = decode_snapshot_header(good, id);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->tokens, snaps[0]->tokens);
  EXPECT_TRUE(decode_snapshot_header(std::string_view(good).substr(0, h->header_bytes), id).ok());
  EXPECT_EQ(h->header_bytes + h->payload_bytes, good.size());
}

TEST(ModelIdentity, StableAndSensitiveToTheWeights) {
  const model::Model& m = golden_model("tiny-flash");
  EXPECT_EQ(model_fingerprint(m), model_fingerprint(m));
  auto again = model::Model::load(std::string(DSV4_SHARED_DIR) + "/golden/tiny-flash/checkpoint");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(model_fingerprint(**again), model_fingerprint(m));
  // The same shapes with other weights: a copy of the checkpoint with the last byte of a shard
  // changed (the last byte of the tensor stored last there, which the fingerprint samples).
  TempDir dir("identity");
  const std::string src = std::string(DSV4_SHARED_DIR) + "/golden/tiny-flash/checkpoint";
  std::string shard;
  for (const auto& f : std::filesystem::directory_iterator(src)) {
    std::filesystem::copy(f.path(), dir.path);
    if (f.path().extension() == ".safetensors") shard = dir.path + "/" + f.path().filename().string();
  }
  ASSERT_FALSE(shard.empty());
  {
    std::fstream fs(shard, std::ios::in | std::ios::out | std::ios::binary);
    fs.seekg(-1, std::ios::end);
    const char c = static_cast<char>(fs.get());
    fs.seekp(-1, std::ios::end);
    fs.put(static_cast<char>(c ^ 1));
  }
  auto changed = model::Model::load(dir.path);
  ASSERT_TRUE(changed.ok()) << changed.message();
  EXPECT_NE(model_fingerprint(**changed), model_fingerprint(m));
}

}  // namespace
}  // namespace dsv4::cache

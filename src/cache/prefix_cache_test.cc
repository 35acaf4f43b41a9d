// The prefix cache: the longest cached prefix wins, RAM eviction is least recently used and
// never takes a snapshot in use; on disk, snapshots survive a restart (and continue identically),
// damaged / truncated / stray files are reported, removed and never hit, another model's files
// are left alone and never hit, the budget holds, and a second process sharing the directory
// only reads it.
#include "cache/prefix_cache.h"

#include <gtest/gtest.h>

#include <fmt/ranges.h>

#include <fstream>
#include <set>

#include "cache/cache_test_util.h"
#include "cache/model_identity.h"
#include "cache/snapshot_file.h"

namespace dsv4::cache {
namespace {

using namespace testing;
namespace fs = std::filesystem;

struct Logs {
  std::vector<std::string> lines;
  PrefixCache::Log fn() {
    return [this](const std::string& s) { lines.push_back(s); };
  }
  int count(const std::string& needle) const {
    int n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }
};

std::vector<std::string> snap_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().extension() == ".dsv4snap") out.push_back(f.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PrefixCache, LongestPrefixWinsAndSnapshotPoints) {
  const model::Model& m = golden_model("tiny-flash");
  const auto prompt = random_tokens(130, m.config().vocab_size, 7);
  const auto snaps = snapshots_of(m, prompt, {64, 100, 130});
  ASSERT_EQ(snaps.size(), 3u);
  CacheOptions o;
  o.ram_bytes = 1ull << 30;
  o.min_tokens = 16;
  auto c = PrefixCache::open(m, o, nullptr);
  ASSERT_TRUE(c.ok()) << c.message();
  PrefixCache& pc = **c;
  EXPECT_FALSE(pc.lookup(prompt).snapshot);
  for (const auto& s : snaps) pc.insert(s);
  pc.insert(snaps[1]);  // the same state twice is kept once
  EXPECT_EQ(pc.stats().entries, 3);
  EXPECT_EQ(pc.lookup(prompt).snapshot, snaps[2]);
  // A prompt that diverges at 110: the 100-token state is the longest prefix.
  auto other = prompt;
  other[110] = (other[110] + 1) % static_cast<int32_t>(m.config().vocab_size);
  EXPECT_EQ(pc.lookup(other).snapshot, snaps[1]);
  // Shorter than every snapshot, or different from the first token: a miss.
  EXPECT_FALSE(pc.lookup(std::span(prompt).first(50)).snapshot);
  other[0] = (other[0] + 1) % static_cast<int32_t>(m.config().vocab_size);
  EXPECT_FALSE(pc.lookup(other).snapshot);
  const CacheStats st = pc.stats();
  EXPECT_EQ(st.lookups, 5);
  EXPECT_EQ(st.ram_hits, 2);
  EXPECT_EQ(st.hit_tokens, 230);
  // Snapshot points: every interval, and the end of the prompt; nothing for short prompts.
  CacheOptions p = o;
  p.interval = 4096;
  auto c2 = PrefixCache::open(m, p, nullptr);
  EXPECT_EQ((*c2)->snapshot_points(0, 10000), (std::vector<int64_t>{4096, 8192, 10000}));
  EXPECT_EQ((*c2)->snapshot_points(5000, 10000), (std::vector<int64_t>{8192, 10000}));
  EXPECT_EQ((*c2)->snapshot_points(8192, 8192), (std::vector<int64_t>{}));
  EXPECT_EQ((*c2)->snapshot_points(0, 10), (std::vector<int64_t>{}));
}

TEST(PrefixCache, SharedPrefixPointIsWhereAPromptPartsFromARecentOne) {
  const model::Model& m = golden_model("tiny-flash");
  CacheOptions o;
  o.ram_bytes = 1 << 20;
  o.min_tokens = 16;
  auto c = PrefixCache::open(m, o, nullptr);
  PrefixCache& pc = **c;
  const int V = m.config().vocab_size;
  const auto sys = random_tokens(100, V, 1);
  auto with = [&](uint32_t seed) {
    auto p = sys;
    const auto tail = random_tokens(20, V, seed);
    p.insert(p.end(), tail.begin(), tail.end());
    return p;
  };
  EXPECT_EQ(pc.shared_prefix_point(with(2)), 0) << "nothing seen yet";
  auto b = with(3);
  b[100] = (with(2)[100] + 1) % V;  // parts exactly after the shared 100 tokens
  EXPECT_EQ(pc.shared_prefix_point(b), 100);
  EXPECT_EQ(pc.shared_prefix_point(random_tokens(120, V, 9)), 0) << "shares (almost) nothing";
  EXPECT_EQ(pc.shared_prefix_point(std::span(sys).first(10)), 0) << "under min_tokens";
}

TEST(PrefixCache, RamBudgetEvictsLeastRecentlyUsedButNeverInUse) {
  const model::Model& m = golden_model("tiny-flash");
  const int V = m.config().vocab_size;
  std::vector<std::shared_ptr<const engine::Snapshot>> s;
  for (int i = 0; i < 4; ++i) s.push_back(snapshots_of(m, random_tokens(40, V, 100 + i), {40})[0]);
  const uint64_t one = PrefixCache::snapshot_bytes(*s[0]);
  CacheOptions o;
  o.ram_bytes = one * 3 + one / 2;  // room for three
  o.min_tokens = 16;
  auto c = PrefixCache::open(m, o, nullptr);
  PrefixCache& pc = **c;
  std::vector<int32_t> p0 = s[0]->tokens, p1 = s[1]->tokens, p2 = s[2]->tokens, p3 = s[3]->tokens;
  pc.insert(s[0]);
  pc.insert(s[1]);
  pc.insert(s[2]);
  EXPECT_TRUE(pc.lookup(p0).snapshot);  // s0 is now the most recently used; s1 the least
  // Drop the test's own references so that only the cache holds s1 and s2 ...
  auto keep2 = s[2];  // ... except s2: a running request holds it
  s.clear();
  pc.insert(snapshots_of(m, p3, {40})[0]);
  EXPECT_EQ(pc.stats().entries, 3);
  EXPECT_FALSE(pc.lookup(p1).snapshot) << "the least recently used one goes";
  EXPECT_TRUE(pc.lookup(p0).snapshot);
  EXPECT_TRUE(pc.lookup(p3).snapshot);
  // Over budget with everything else in use: the held one stays, the budget gives way.
  auto held0 = pc.lookup(p0).snapshot, held3 = pc.lookup(p3).snapshot;
  pc.insert(snapshots_of(m, p1, {40})[0]);
  EXPECT_TRUE(pc.lookup(p2).snapshot) << "in use, never evicted";
  EXPECT_LE(pc.stats().bytes, one * 4);
  EXPECT_GE(pc.stats().evictions, 1);
}

// Snapshots taken along one growing prompt (as the interval and end-of-prompt points make them)
// hold its compressed rows once: the cache's RAM grows with distinct content, not with the number
// of snapshots, and evicting the shorter ones frees only what they alone held.
TEST(PrefixCache, SnapshotsOfOnePrefixShareItsRows) {
  const model::Model& m = golden_model("tiny-flash");  // CSA ratio 4: 64-row blocks fill every 256 tokens
  const auto prompt = random_tokens(1280, m.config().vocab_size, 77);
  const std::vector<int64_t> at = {256, 512, 768, 1024, 1280};
  auto snaps = snapshots_of(m, prompt, at);
  ASSERT_EQ(snaps.size(), at.size());
  uint64_t unshared = 0, rows = 0, own_parts = 0;
  for (const auto& sn : snaps) {
    unshared += PrefixCache::snapshot_bytes(*sn);
    rows += sn->growing_bytes;
    own_parts += PrefixCache::snapshot_bytes(*sn) - sn->growing_bytes;
  }
  const uint64_t last = PrefixCache::snapshot_bytes(*snaps.back());
  const uint64_t own = last - snaps.back()->growing_bytes;  // rings, compressor state, logits, tokens

  CacheOptions o;
  o.ram_bytes = 1ull << 30;
  o.min_tokens = 16;
  auto c = PrefixCache::open(m, o, nullptr);
  PrefixCache& pc = **c;
  for (const auto& sn : snaps) pc.insert(sn);
  const CacheStats st = pc.stats();
  EXPECT_EQ(st.entries, 5);
  EXPECT_EQ(st.unshared_bytes, unshared);
  // Held: every snapshot's own part (rings, compressor state, logits, tokens) and the longest
  // one's rows once (+ <16 rows of capacity per store and the HCA layers' partial blocks): every
  // row a shorter one has is in a full block the longest one shares.
  const uint64_t held_rows = st.bytes - own_parts, last_rows = snaps.back()->growing_bytes;
  EXPECT_GE(held_rows, last_rows);
  EXPECT_LE(held_rows, last_rows + last_rows / 8) << "rows as separate copies: " << rows;
  EXPECT_LT(held_rows * 2, rows);
  fmt::print("5 snapshots of one 1280-token prompt: {} bytes of rows held, {} as separate copies ({} / {} in all)\n",
             held_rows, rows, st.bytes, unshared);

  // Each still continues exactly (the engine's sequence kept appending after each was taken).
  for (size_t i = 0; i < snaps.size(); ++i) {
    auto hit = pc.lookup(std::span<const int32_t>(prompt).first(static_cast<size_t>(at[i])));
    ASSERT_TRUE(hit.snapshot);
    EXPECT_TRUE(same_snapshot(*hit.snapshot, *snaps[i]));
  }
  // A budget one byte short of all five: the least recently used (the shortest) goes, and that
  // frees only what it alone held (its fixed part and partial blocks), not the shared rows.
  const std::vector<int32_t> shortest = snaps.front()->tokens, longest = snaps.back()->tokens;
  c->reset();  // (its entries would count as users of the snapshots)
  CacheOptions small = o;
  small.ram_bytes = st.bytes - 1;
  auto c2 = PrefixCache::open(m, small, nullptr);
  for (auto& sn : snaps) (*c2)->insert(std::move(sn));
  const CacheStats st2 = (*c2)->stats();
  EXPECT_EQ(st2.evictions, 1);
  EXPECT_EQ(st2.entries, 4);
  EXPECT_LE(st2.bytes, small.ram_bytes);
  EXPECT_GE(st2.bytes + own + own / 2, st.bytes) << "evicting one snapshot freed more than its own part";
  EXPECT_FALSE((*c2)->lookup(shortest).snapshot);
  EXPECT_TRUE((*c2)->lookup(longest).snapshot);
}

TEST(PrefixCacheDisk, SurvivesRestartAndContinuesIdentically) {
  const model::Model& m = golden_model("tiny-flash");
  const auto prompt = random_tokens(140, m.config().vocab_size, 8);
  TempDir dir("cache-restart");
  CacheOptions o;
  o.ram_bytes = 1ull << 30;
  o.dir = dir.path;
  o.disk_bytes = 1ull << 30;
  o.min_tokens = 16;
  std::shared_ptr<const engine::Snapshot> orig;
  {
    Logs logs;
    auto c = PrefixCache::open(m, o, logs.fn());
    ASSERT_TRUE(c.ok()) << c.message();
    orig = snapshots_of(m, prompt, {129})[0];
    (*c)->insert(orig);
    (*c)->insert(orig);  // queued once, written once
    (*c)->flush_disk();
    const CacheStats st = (*c)->stats();
    EXPECT_TRUE(st.disk.writer);
    EXPECT_EQ(st.disk.writes, 1);
    EXPECT_EQ(st.disk.files, 1);
    EXPECT_TRUE(logs.lines.empty());
  }
  ASSERT_EQ(snap_files(dir.path).size(), 1u);
  EXPECT_FALSE(fs::exists(dir.path + "/.tmp-0-0"));
  // A restart: a fresh cache over the same directory hits from disk, and the engine continues
  // from the loaded state bitwise as from the original.
  Logs logs;
  auto c = PrefixCache::open(m, o, logs.fn());
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ((*c)->stats().disk.files, 1);
  const CacheHit hit = (*c)->lookup(prompt);
  ASSERT_TRUE(hit.snapshot);
  EXPECT_TRUE(hit.from_disk);
  EXPECT_TRUE(same_snapshot(*hit.snapshot, *orig));
  EXPECT_FALSE((*c)->lookup(prompt).from_disk) << "now in RAM";
  engine::EngineOptions eo;
  eo.speculative = 0;
  engine::Engine e(m, nullptr, eo);
  engine::Request a = greedy(prompt, 5), b = greedy(prompt, 5);
  a.snapshot = orig;
  b.snapshot = hit.snapshot;
  const auto ra = collect(*e.submit(a)), rb = collect(*e.submit(b));
  EXPECT_EQ(ra.tokens, rb.tokens);
  EXPECT_EQ(rb.usage.cached_tokens, 129);
  EXPECT_TRUE(logs.lines.empty());
}

// After a restart the snapshots come back from disk one by one, each with its own copy of the
// rows; each full block equal to one already back in RAM is shared again, so the RAM tier after a
// restart holds the rows once, as before it.
TEST(PrefixCacheDisk, SnapshotsReadBackShareTheRowsOfThoseInRam) {
  const model::Model& m = golden_model("tiny-flash");
  const auto prompt = random_tokens(1280, m.config().vocab_size, 78);
  TempDir dir("cache-share");
  CacheOptions o;
  o.ram_bytes = 1ull << 30;
  o.dir = dir.path;
  o.disk_bytes = 1ull << 30;
  o.min_tokens = 16;
  auto snaps = snapshots_of(m, prompt, {512, 1280});
  uint64_t before = 0;
  {
    auto c = PrefixCache::open(m, o, nullptr);
    for (const auto& sn : snaps) (*c)->insert(sn);
    (*c)->flush_disk();
    before = (*c)->stats().bytes;
  }
  auto c = PrefixCache::open(m, o, nullptr);
  const std::span<const int32_t> all(prompt);
  const CacheHit h1 = (*c)->lookup(all.first(512)), h2 = (*c)->lookup(all);
  ASSERT_TRUE(h1.snapshot && h2.snapshot);
  EXPECT_TRUE(h1.from_disk && h2.from_disk);
  EXPECT_TRUE(same_snapshot(*h1.snapshot, *snaps[0]));
  EXPECT_TRUE(same_snapshot(*h2.snapshot, *snaps[1]));
  size_t shared = 0;
  std::set<const void*> first;
  for (const auto& st : h1.snapshot->seq.layers)
    st.compressed.for_each_block([&](const void* id, size_t) { first.insert(id); });
  for (const auto& st : h2.snapshot->seq.layers)
    st.compressed.for_each_block([&](const void* id, size_t) { shared += first.count(id); });
  EXPECT_GT(shared, 0u) << "the 1280-token snapshot shares the 512-token one's full blocks";
  const CacheStats st = (*c)->stats();
  EXPECT_EQ(st.bytes, before) << "the same RAM as before the restart";
  EXPECT_LT(st.bytes, st.unshared_bytes);
}

TEST(PrefixCacheDisk, BadFilesAreReportedRemovedAndNeverHit) {
  const model::Model& m = golden_model("tiny-flash");
  const int V = m.config().vocab_size;
  TempDir dir("cache-bad");
  CacheOptions o;
  o.ram_bytes = 0;  // every hit comes from disk
  o.dir = dir.path;
  o.disk_bytes = 1ull << 30;
  o.min_tokens = 16;
  std::vector<std::vector<int32_t>> prompts;
  {
    auto c = PrefixCache::open(m, o, nullptr);
    for (int i = 0; i < 4; ++i) {
      prompts.push_back(random_tokens(40, V, 200 + i));
      (*c)->insert(snapshots_of(m, prompts.back(), {40})[0]);
    }
    (*c)->flush_disk();
  }
  auto files = snap_files(dir.path);
  ASSERT_EQ(files.size(), 4u);
  auto file_of = [&](const std::vector<int32_t>& p) {
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string head(1 << 12, '\0');
      in.read(head.data(), static_cast<std::streamsize>(head.size()));
      head.resize(static_cast<size_t>(in.gcount()));
      auto h = decode_snapshot_header(head, model_fingerprint(m));
      if (h.ok() && h->tokens == p) return f;
    }
    return std::string();
  };
  const std::string truncated = file_of(prompts[0]), flipped = file_of(prompts[1]), foreign = file_of(prompts[2]);
  fs::resize_file(truncated, fs::file_size(truncated) - 100);
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-50, std::ios::end);
    const char ch = static_cast<char>(f.get());
    f.seekp(-50, std::ios::end);
    f.put(static_cast<char>(ch ^ 0x40));  // payload damage: seen only when the file is read
  }
  // Another model's file: same content, another fingerprint in its name.
  const std::string foreign_name = dir.path + "/0123456789abcdef-" + fs::path(foreign).filename().string().substr(17);
  fs::rename(foreign, foreign_name);
  std::ofstream(dir.path + "/.tmp-999999-1") << "half a write";
  std::ofstream(dir.path + "/notes.txt") << "not ours";

  Logs logs;
  auto c = PrefixCache::open(m, o, logs.fn());
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(logs.count("truncated"), 1) << fmt::format("{}", fmt::join(logs.lines, "\n"));
  EXPECT_FALSE(fs::exists(truncated));
  EXPECT_FALSE(fs::exists(dir.path + "/.tmp-999999-1"));
  EXPECT_TRUE(fs::exists(foreign_name)) << "another model's file is left alone";
  EXPECT_TRUE(fs::exists(dir.path + "/notes.txt"));
  EXPECT_EQ((*c)->stats().disk.files, 2);  // the flipped one (not yet read) and the good one
  EXPECT_FALSE((*c)->lookup(prompts[0]).snapshot);
  EXPECT_FALSE((*c)->lookup(prompts[2]).snapshot) << "another model's state never hits";
  EXPECT_FALSE((*c)->lookup(prompts[1]).snapshot) << "a damaged payload never hits";
  EXPECT_EQ(logs.count("checksum"), 1) << fmt::format("{}", fmt::join(logs.lines, "\n"));
  EXPECT_FALSE(fs::exists(flipped));
  EXPECT_FALSE((*c)->lookup(prompts[1]).snapshot);
  EXPECT_EQ(logs.count("checksum"), 1) << "reported once";
  EXPECT_TRUE((*c)->lookup(prompts[3]).snapshot);
  EXPECT_EQ((*c)->stats().disk.files, 1);
}

TEST(PrefixCacheDisk, BudgetEvictsLeastRecentlyUsedAndASecondProcessOnlyReads) {
  const model::Model& m = golden_model("tiny-flash");
  const int V = m.config().vocab_size;
  TempDir dir("cache-budget");
  std::vector<std::shared_ptr<const engine::Snapshot>> s;
  for (int i = 0; i < 4; ++i) s.push_back(snapshots_of(m, random_tokens(40, V, 300 + i), {40})[0]);
  const uint64_t file_bytes = encode_snapshot(*s[0], 0).size();
  CacheOptions o;
  o.ram_bytes = 0;
  o.dir = dir.path;
  o.disk_bytes = file_bytes * 3 + file_bytes / 2;  // room for three files
  o.min_tokens = 16;
  auto c = PrefixCache::open(m, o, nullptr);
  for (int i = 0; i < 3; ++i) (*c)->insert(s[i]);
  (*c)->flush_disk();
  EXPECT_TRUE((*c)->lookup(s[0]->tokens).snapshot);  // s0 used: s1 is the least recently used
  (*c)->insert(s[3]);
  (*c)->flush_disk();
  EXPECT_EQ(snap_files(dir.path).size(), 3u);
  EXPECT_LE((*c)->stats().disk.bytes, o.disk_bytes);
  EXPECT_EQ((*c)->stats().disk.evictions, 1);
  EXPECT_FALSE((*c)->lookup(s[1]->tokens).snapshot);
  EXPECT_TRUE((*c)->lookup(s[3]->tokens).snapshot);

  // A second process on the same directory (a second lock holder is refused even within one
  // process: flock locks belong to the open file): it reads, never writes or removes.
  Logs logs;
  auto reader = PrefixCache::open(m, o, logs.fn());
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->stats().disk.writer);
  EXPECT_EQ(logs.count("only reads"), 1);
  EXPECT_TRUE((*reader)->lookup(s[0]->tokens).snapshot);
  (*reader)->insert(s[1]);
  (*reader)->flush_disk();
  EXPECT_EQ(snap_files(dir.path).size(), 3u);
  EXPECT_EQ((*reader)->stats().disk.writes, 0);
  // The writer removes a file the reader indexed: for the reader a miss, not an error.
  c->reset();
  fs::remove(snap_files(dir.path)[0]);
  for (const auto& x : {s[0], s[2], s[3]}) (void)(*reader)->lookup(x->tokens);
  EXPECT_EQ(logs.count("bad"), 0);
}

}  // namespace
}  // namespace dsv4::cache

// RowStore: rows read back as written across block boundaries; copies share the full blocks and
// nothing else; no write through one store (append, truncate) ever shows in another.
#include "model/row_store.h"

#include <gtest/gtest.h>

#include <set>

namespace dsv4::model {
namespace {

constexpr int64_t kW = 6;
constexpr int64_t B = RowStore::kBlockRows;

// Row r written with `salt` holds r and salt (little endian) then a column pattern: distinct for
// every row of the test and every salt.
uint8_t value(int64_t row, int64_t col, int64_t salt = 0) {
  const int64_t v[kW] = {row & 255, row >> 8, salt & 255, salt >> 8, col, 255 - col};
  return static_cast<uint8_t>(v[col]);
}

void fill(RowStore& s, int64_t from, int64_t to, int64_t salt = 0) {
  for (int64_t r = from; r < to; ++r) {
    uint8_t* p = s.append();
    for (int64_t c = 0; c < kW; ++c) p[c] = value(r, c, salt);
  }
}

bool holds(const RowStore& s, int64_t rows, int64_t salt = 0, int64_t salt_from = 0) {
  if (s.rows() != rows) return false;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < kW; ++c)
      if (s.row(r)[c] != value(r, c, r >= salt_from ? salt : 0)) return false;
  return true;
}

std::set<const void*> blocks(const RowStore& s) {
  std::set<const void*> out;
  s.for_each_block([&](const void* id, size_t) { out.insert(id); });
  return out;
}

size_t shared(const RowStore& a, const RowStore& b) {
  size_t n = 0;
  const auto x = blocks(a);
  for (const void* id : blocks(b)) n += x.count(id);
  return n;
}

TEST(RowStore, RowsReadBackAcrossBlocks) {
  RowStore s;
  s.reset(kW);
  EXPECT_TRUE(s.empty());
  fill(s, 0, 3 * B + 5);
  EXPECT_TRUE(holds(s, 3 * B + 5));
  const std::vector<uint8_t> v = s.to_vector();
  ASSERT_EQ(v.size(), static_cast<size_t>((3 * B + 5) * kW));
  for (int64_t r = 0; r < 3 * B + 5; ++r) EXPECT_EQ(v[r * kW + 1], value(r, 1));
  RowStore t;
  t.reset(kW);
  t.assign(v);
  EXPECT_TRUE(same_rows(s, t));
  EXPECT_EQ(shared(s, t), 0u);
  // Capacity: full blocks exactly, the last one under 16 rows over what it holds.
  EXPECT_LE(s.bytes_reserved(), static_cast<size_t>((3 * B + 5 + 16) * kW));
  EXPECT_GE(s.bytes_reserved(), static_cast<size_t>((3 * B + 5) * kW));
}

TEST(RowStore, CopiesShareFullBlocksOnly) {
  RowStore a;
  a.reset(kW);
  fill(a, 0, 2 * B + 7);
  RowStore b = a;
  EXPECT_EQ(shared(a, b), 2u);  // the two full blocks; each has its own partial block
  EXPECT_TRUE(same_rows(a, b));
  fill(a, 2 * B + 7, 3 * B + 1, 1000);  // a continues one way, b another
  fill(b, 2 * B + 7, 2 * B + 9, 2000);
  EXPECT_TRUE(holds(a, 3 * B + 1, 1000, 2 * B + 7));
  EXPECT_TRUE(holds(b, 2 * B + 9, 2000, 2 * B + 7));
  // Snapshots of one prefix hold its rows once: ten copies taken while it grows share them.
  RowStore c;
  c.reset(kW);
  std::vector<RowStore> snaps;
  for (int i = 0; i < 10; ++i) {
    fill(c, i * B, (i + 1) * B + 3);  // a step past the block, rolled back to its boundary
    c.truncate((i + 1) * B);
    snaps.push_back(c);
  }
  std::set<const void*> all;
  size_t bytes = 0;
  for (const auto& s : snaps)
    s.for_each_block([&](const void* id, size_t n) {
      if (all.insert(id).second) bytes += n;
    });
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(bytes, static_cast<size_t>(10 * B * kW));
}

TEST(RowStore, TruncatingIntoASharedBlockCopiesIt) {
  RowStore a;
  a.reset(kW);
  fill(a, 0, 2 * B);
  const RowStore snap = a;  // shares both (full) blocks
  EXPECT_EQ(shared(a, snap), 2u);
  a.truncate(B + 10);       // back inside the second block: it must not be written in place
  EXPECT_EQ(shared(a, snap), 1u);
  fill(a, B + 10, 2 * B + 4, 500);
  EXPECT_TRUE(holds(snap, 2 * B));
  EXPECT_TRUE(holds(a, 2 * B + 4, 500, B + 10));
  a.truncate(B);  // to a block boundary: the first block stays shared
  EXPECT_EQ(shared(a, snap), 1u);
  fill(a, B, B + 2, 700);
  EXPECT_TRUE(holds(snap, 2 * B));
  EXPECT_TRUE(holds(a, B + 2, 700, B));
  // Truncating within a partial block this store owns keeps it (no copy).
  const auto before = blocks(a);
  a.truncate(B + 1);
  EXPECT_EQ(blocks(a), before);
  a.truncate(0);
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(holds(snap, 2 * B));
}

TEST(RowStore, AssignmentAndMoveKeepTheInvariant) {
  RowStore a;
  a.reset(kW);
  fill(a, 0, B + 3);
  RowStore b;
  b = a;
  fill(b, B + 3, B + 5, 9);
  EXPECT_TRUE(holds(a, B + 3));
  RowStore c = std::move(b);
  EXPECT_TRUE(holds(c, B + 5, 9, B + 3));
  const RowStore& alias = c;
  c = alias;  // self-assignment leaves it as it is
  EXPECT_TRUE(holds(c, B + 5, 9, B + 3));
}

}  // namespace
}  // namespace dsv4::model

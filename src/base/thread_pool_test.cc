// Thread pool: coverage and static partition of parallel_for, inline nested calls, serialized
// outside callers, resizing. Run under ThreadSanitizer with the engine tests.
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace dsv4 {
namespace {

// Restores the default pool size after a test that changes it.
struct PoolSize {
  explicit PoolSize(int n) { set_num_threads(n); }
  ~PoolSize() { set_num_threads(0); }
};

TEST(ThreadPool, EveryIndexRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    PoolSize size(threads);
    EXPECT_EQ(num_threads(), threads);
    for (int64_t n : {1, 2, 3, 4, 7, 100, 1001}) {
      std::vector<int> hits(n, 0);
      parallel_for(n, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) ++hits[i];  // ranges are disjoint: no race
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << "threads " << threads << " n " << n << " i " << i;
    }
  }
}

TEST(ThreadPool, StaticPartitionIsContiguousAndDeterministic) {
  PoolSize size(3);
  std::mutex mu;
  std::set<std::pair<int64_t, int64_t>> ranges;
  parallel_for(10, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lk(mu);
    ranges.insert({b, e});
  });
  // Part p = [n*p/P, n*(p+1)/P) with P = 3.
  const std::set<std::pair<int64_t, int64_t>> want = {{0, 3}, {3, 6}, {6, 10}};
  EXPECT_EQ(ranges, want);
  ranges.clear();
  parallel_for(2, [&](int64_t b, int64_t e) {  // fewer items than threads: one part per item
    std::lock_guard<std::mutex> lk(mu);
    ranges.insert({b, e});
  });
  const std::set<std::pair<int64_t, int64_t>> want2 = {{0, 1}, {1, 2}};
  EXPECT_EQ(ranges, want2);
}

TEST(ThreadPool, UsesSeveralThreads) {
  PoolSize size(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  parallel_for(3, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lk(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(ids.count(std::this_thread::get_id()));  // the caller runs part 0
}

TEST(ThreadPool, NestedCallsRunInline) {
  PoolSize size(3);
  std::atomic<int64_t> total{0};
  std::atomic<bool> nested_on_other_thread{false};
  parallel_for(6, [&](int64_t b, int64_t e) {
    EXPECT_TRUE(in_parallel_region());
    const auto me = std::this_thread::get_id();
    for (int64_t i = b; i < e; ++i)
      parallel_for(10, [&](int64_t nb, int64_t ne) {
        if (std::this_thread::get_id() != me) nested_on_other_thread = true;
        EXPECT_EQ(nb, 0);  // inline: the whole range in one call
        EXPECT_EQ(ne, 10);
        total += ne - nb;
      });
  });
  EXPECT_FALSE(in_parallel_region());
  EXPECT_EQ(total.load(), 60);
  EXPECT_FALSE(nested_on_other_thread.load());
}

TEST(ThreadPool, ConcurrentOutsideCallersAreSerialized) {
  PoolSize size(2);
  std::atomic<int> in_job{0}, max_in_job{0};
  std::atomic<int64_t> sum{0};
  auto caller = [&] {
    for (int rep = 0; rep < 50; ++rep)
      parallel_for(4, [&](int64_t b, int64_t e) {
        const int now = ++in_job;
        int prev = max_in_job.load();
        while (now > prev && !max_in_job.compare_exchange_weak(prev, now)) {
        }
        for (int64_t i = b; i < e; ++i) sum += i;
        --in_job;
      });
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(sum.load(), 2 * 50 * (0 + 1 + 2 + 3));
  EXPECT_LE(max_in_job.load(), 2);  // never more parts at once than the pool has threads
}

TEST(ThreadPool, ResultsVisibleAfterReturn) {
  PoolSize size(4);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<int64_t> out(64, -1);
    parallel_for(64, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = i * rep;
    });
    for (int64_t i = 0; i < 64; ++i) ASSERT_EQ(out[i], i * rep);
  }
}

}  // namespace
}  // namespace dsv4

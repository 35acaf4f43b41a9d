#include "base/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/check.h"

namespace dsv4 {
namespace {

thread_local bool t_in_region = false;

// Marks the current thread as running a part for the lifetime of the guard.
struct RegionGuard {
  bool saved = t_in_region;
  RegionGuard() { t_in_region = true; }
  ~RegionGuard() { t_in_region = saved; }
};

int default_threads() {
  if (const char* env = std::getenv("DSV4_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 4096) return static_cast<int>(v);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

int64_t part_begin(int64_t n, int64_t p, int64_t parts) { return n * p / parts; }

// Workers 1..size-1 wait for a new generation, run their part and count down `pending_`.
class Pool {
 public:
  explicit Pool(int size) : size_(size) {
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int size() const { return size_; }

  // Caller holds the global job mutex, so only one job is in flight.
  void run(int64_t n, thread_pool_detail::RangeFn fn, void* ctx) {
    const int64_t parts = std::min<int64_t>(n, size_);
    if (parts > 1) {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn;
      ctx_ = ctx;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    if (parts > 1) start_cv_.notify_all();
    {
      RegionGuard g;
      fn(ctx, 0, part_begin(n, 1, parts));
    }
    if (parts > 1) {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [this] { return pending_ == 0; });
    }
  }

 private:
  void worker_loop(int index) {
    t_in_region = true;  // a worker only ever runs parts: nested calls stay inline
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= parts_) continue;  // this job has fewer parts than threads
      const auto fn = fn_;
      void* const ctx = ctx_;
      const int64_t b = part_begin(n_, index, parts_), e = part_begin(n_, index + 1, parts_);
      lk.unlock();
      fn(ctx, b, e);
      lk.lock();
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  const int size_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  thread_pool_detail::RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, parts_ = 0, pending_ = 0;
};

// Guards the pool pointer and serializes jobs from different outside threads.
std::mutex& job_mutex() {
  static std::mutex m;
  return m;
}

std::unique_ptr<Pool>& pool_slot() {
  static std::unique_ptr<Pool> p;
  return p;
}

Pool& pool_locked() {
  auto& p = pool_slot();
  if (!p) p = std::make_unique<Pool>(default_threads());
  return *p;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lk(job_mutex());
  return pool_locked().size();
}

void set_num_threads(int n) {
  DSV4_CHECK(!t_in_region);  // replacing the pool from inside one of its jobs would deadlock
  std::lock_guard<std::mutex> lk(job_mutex());
  auto& p = pool_slot();
  p.reset();
  p = std::make_unique<Pool>(n >= 1 ? n : default_threads());
}

bool in_parallel_region() { return t_in_region; }

namespace thread_pool_detail {

void run(int64_t n, RangeFn fn, void* ctx) {
  if (t_in_region || n == 1) {
    RegionGuard g;
    fn(ctx, 0, n);
    return;
  }
  std::lock_guard<std::mutex> lk(job_mutex());
  pool_locked().run(n, fn, ctx);
}

}  // namespace thread_pool_detail
}  // namespace dsv4

// One process-wide pool of worker threads for data-parallel loops (the kernels' only threading).
//
// parallel_for(n, fn) splits [0, n) into contiguous static parts, part p = [n*p/P, n*(p+1)/P),
// one per thread (the calling thread runs part 0), and returns when all parts are done. The
// partition depends only on n and the thread count, never on timing. A parallel_for issued from
// inside a running part (a worker, or the caller while it runs part 0) runs inline on that thread,
// so nested loops never oversubscribe or deadlock. Calls from several outside threads at once are
// serialized (one job at a time). Synchronization is a plain mutex + condition variables, so
// ThreadSanitizer sees every hand-off (unlike libgomp, which is not instrumented).
//
// Size: DSV4_THREADS if set to a positive integer, else std::thread::hardware_concurrency().
// `fn` must not throw.
#pragma once
#include <cstdint>
#include <type_traits>

namespace dsv4 {

// Threads parallel_for uses (including the caller), >= 1.
int num_threads();
// Replaces the pool with one of n threads (n < 1 means the default size). For benchmarks and
// tests; waits for a running job to finish first.
void set_num_threads(int n);
// True while the current thread runs a part of a parallel_for.
bool in_parallel_region();

namespace thread_pool_detail {
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
void run(int64_t n, RangeFn fn, void* ctx);
}  // namespace thread_pool_detail

// Calls fn(begin, end) on disjoint contiguous ranges covering [0, n), in parallel.
template <typename Fn>
void parallel_for(int64_t n, Fn&& fn) {
  if (n <= 0) return;
  auto trampoline = [](void* ctx, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<Fn>*>(ctx))(b, e); };
  thread_pool_detail::run(n, trampoline, const_cast<void*>(static_cast<const void*>(&fn)));
}

}  // namespace dsv4

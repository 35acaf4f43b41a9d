#include "cli/bench_memory.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "base/cpu_features.h"

namespace dsv4::cli {
namespace {

volatile uint64_t g_sink = 0;

// Returns a value that depends on every byte, so the loads cannot be optimized away. Four
// independent accumulators keep several loads in flight per thread.
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, int64_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

uint64_t read_sse2(const uint8_t* p, int64_t n) {
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i + 64 <= n; i += 64) {
    a0 = _mm_xor_si128(a0, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i)));
    a1 = _mm_xor_si128(a1, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 16)));
    a2 = _mm_xor_si128(a2, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 32)));
    a3 = _mm_xor_si128(a3, _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 48)));
  }
  alignas(16) uint64_t lanes[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), _mm_xor_si128(_mm_xor_si128(a0, a1), _mm_xor_si128(a2, a3)));
  return lanes[0] ^ lanes[1];
}

// Runs fn(thread, begin, end) on `threads` threads over 4 KiB-aligned slices of [0, bytes).
template <typename Fn>
void on_slices(int64_t bytes, int threads, const Fn& fn) {
  std::vector<std::thread> ts;
  auto slice = [&](int t) { return bytes / threads * t / 4096 * 4096; };
  for (int t = 1; t < threads; ++t) ts.emplace_back([&, t] { fn(t, slice(t), t + 1 == threads ? bytes : slice(t + 1)); });
  fn(0, 0, threads == 1 ? bytes : slice(1));
  for (auto& th : ts) th.join();
}

}  // namespace

BandwidthResult measure_read_bandwidth(int64_t bytes, int threads, int reps) {
  BandwidthResult r;
  r.threads = std::max(1, threads);
  r.bytes = std::max<int64_t>(int64_t{1} << 20, bytes / 4096 * 4096);
  const bool avx2 = cpu_features().avx2;
  r.kernel = avx2 ? "avx2" : "sse2";
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(4096, static_cast<size_t>(r.bytes)));
  // First touch from the reading threads: the pages are mapped (and, on NUMA hosts, placed) before
  // any timing.
  on_slices(r.bytes, r.threads, [&](int, int64_t b, int64_t e) { std::memset(buf + b, 0x5a, static_cast<size_t>(e - b)); });
  std::vector<uint64_t> sink(static_cast<size_t>(r.threads));
  double best = 0;
  for (int rep = 0; rep < std::max(1, reps); ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    on_slices(r.bytes, r.threads, [&](int t, int64_t b, int64_t e) {
      sink[t] ^= avx2 ? read_avx2(buf + b, e - b) : read_sse2(buf + b, e - b);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (best == 0 || s < best) best = s;
  }
  uint64_t all = 0;
  for (uint64_t v : sink) all ^= v;
  std::free(buf);
  r.seconds = best;
  r.gb_per_s = best > 0 ? r.bytes / best / 1e9 : 0;
  g_sink = all;  // the loads are observable, so they cannot be dropped
  return r;
}

}  // namespace dsv4::cli

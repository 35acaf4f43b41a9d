// DRAM read bandwidth of this machine, measured with our own streaming kernel: a buffer far larger
// than the last-level cache, split into one contiguous slice per thread, read with 32-byte loads
// (AVX2 when the CPU has it, else 16-byte SSE2) into independent accumulators. Best of `reps`.
#pragma once
#include <cstdint>

namespace dsv4::cli {

struct BandwidthResult {
  double gb_per_s = 0;  // 1e9 bytes per second, best rep
  double seconds = 0;   // time of the best rep
  int64_t bytes = 0;    // buffer size
  int threads = 0;
  const char* kernel = "";  // "avx2" or "sse2"
};

BandwidthResult measure_read_bandwidth(int64_t bytes, int threads, int reps);

}  // namespace dsv4::cli

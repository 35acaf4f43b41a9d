// Linear kernel throughput at DeepSeek-V4-Flash decode shapes (GEMV, m = 1), per CPU tier and
// thread count, as GB/s of weight bytes read, next to this machine's streaming-read bandwidth.
//
//   build/bench/dsv4_kernel_bench [--threads 1,2] [--ms 300] [--head-rows 32768] [--gemm-rows 0]
//                                 [--only SUBSTRING]
//
// "cold": the call cycles through copies of the weight totalling >= 512 MiB, so every call reads
// from DRAM, as decode does (a 284B model never fits a cache). "hot": one copy, cache resident
// where it fits. --gemm-rows R adds an m = R run of each shape (GFLOP/s).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/cpu_features.h"
#include "base/thread_pool.h"
#include "kernels/linear.h"
#include "kernels/linear_variants.h"
#include "tensor/fp8.h"

namespace {

using namespace dsv4;
using namespace dsv4::kernels;
using Clock = std::chrono::steady_clock;

constexpr int64_t kColdBytes = int64_t{512} << 20;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Runs fn(i) for i = 0, 1, ... until `ms` have passed (after one warm-up call); seconds per call.
template <typename Fn>
double time_calls(double ms, Fn&& fn) {
  fn(0);
  int64_t calls = 0;
  const auto t0 = Clock::now();
  double el = 0;
  do {
    fn(++calls);
    el = seconds_since(t0);
  } while (el * 1e3 < ms || calls < 3);
  return el / calls;
}

// Streaming read of a 1 GiB buffer split over the pool's threads: the bandwidth a weight-reading
// kernel can at best reach with that many threads.
double stream_read_gbs(double ms) {
  const int64_t n = (int64_t{1} << 30) / 8;
  std::vector<uint64_t> buf(n);
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buf[i] = static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull;
  });
  std::vector<uint64_t> sink(64);
  const double s = time_calls(ms, [&](int64_t) {
    parallel_for(64, [&](int64_t b, int64_t e) {
      for (int64_t part = b; part < e; ++part) {
        const int64_t i0 = n * part / 64, i1 = n * (part + 1) / 64;
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (int64_t i = i0; i + 4 <= i1; i += 4) {
          a0 += buf[i];
          a1 += buf[i + 1];
          a2 += buf[i + 2];
          a3 += buf[i + 3];
        }
        sink[part] = a0 ^ a1 ^ a2 ^ a3;
      }
    });
  });
  volatile uint64_t keep = sink[0];
  (void)keep;
  return static_cast<double>(n * 8) / s / 1e9;
}

std::vector<uint8_t> random_bytes(int64_t n, uint32_t seed, uint8_t lo, uint8_t hi, bool no_fp8_nan) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    int x;
    do x = d(rng);
    while (no_fp8_nan && (x & 0x7f) == 0x7f);
    b = static_cast<uint8_t>(x);
  }
  return v;
}

// Codes of normally distributed weights scaled so that 4 sigma maps to 448, as block-scaled
// checkpoints look (almost no subnormal codes; uniform random bytes would make 1/16 of them
// subnormal, which no real weight does).
std::vector<uint8_t> normal_fp8_codes(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<uint8_t> v(n);
  for (auto& c : v) c = f32_to_fp8_e4m3(std::clamp(d(rng) * 112.0f, -448.0f, 448.0f));
  return v;
}

std::vector<float> random_acts(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = round_bf16(d(rng));
  return v;
}

// One weight shape of one format, with enough copies for the cold runs.
struct Case {
  std::string name;
  int64_t n = 0, k = 0, bytes = 0;
  std::vector<std::vector<uint8_t>> data, scales;  // per copy (bf16: data holds the bf16 bytes)
  char kind = 'b';                                 // '8' FP8, '4' FP4, 'b' bf16
};

Case make_case(const std::string& name, char kind, int64_t n, int64_t k, int copies) {
  Case c;
  c.name = name;
  c.n = n;
  c.k = k;
  c.kind = kind;
  if (kind == '8') {
    c.data.push_back(normal_fp8_codes(n * k, 1));
    c.scales.push_back(random_bytes(((n + 127) / 128) * ((k + 127) / 128), 100, 118, 124, false));
  } else if (kind == '4') {
    c.data.push_back(random_bytes(n * k / 2, 1, 0, 255, false));
    c.scales.push_back(random_bytes(n * k / 32, 100, 118, 124, false));
  } else {
    c.data.push_back(random_bytes(n * k * 2, 1, 0, 255, false));
    for (int64_t e = 1; e < n * k * 2; e += 2) c.data[0][e] = static_cast<uint8_t>(0x3c + (c.data[0][e] & 1));
    c.scales.emplace_back();
  }
  for (int i = 1; i < copies; ++i) {  // distinct memory, same values: only the traffic matters
    c.data.push_back(c.data[0]);
    c.scales.push_back(c.scales[0]);
  }
  c.bytes = static_cast<int64_t>(c.data[0].size() + c.scales[0].size());
  return c;
}

void run_case(const LinearVariant& v, const Case& c, const std::vector<float>& x, int64_t m, int copy_count,
              std::vector<float>& y, double ms, double* s_per_call) {
  *s_per_call = time_calls(ms, [&](int64_t call) {
    const int64_t i = call % copy_count;
    if (c.kind == '8') {
      v.fp8(x.data(), m, Fp8Matrix{c.data[i].data(), c.scales[i].data(), c.n, c.k}, y.data());
    } else if (c.kind == '4') {
      v.fp4(x.data(), m, Fp4Matrix{c.data[i].data(), c.scales[i].data(), c.n, c.k}, y.data());
    } else {
      v.bf16(x.data(), m, reinterpret_cast<const bf16*>(c.data[i].data()), c.n, c.k, y.data(), false);
    }
  });
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    out.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> threads = {1, 2};
  double ms = 300;
  int64_t head_rows = 32768, gemm_rows = 0;
  std::string only;  // run only the shapes whose name contains this
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--ms")) ms = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--head-rows")) head_rows = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--gemm-rows")) gemm_rows = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 1;
    }
  }
  std::printf("cpu: %s; tier %s\n", cpu_features_string(cpu_features()).c_str(), cpu_tier_name(cpu_features().tier));

  struct Spec {
    const char* name;
    char kind;
    int64_t n, k;
  };
  // V4-Flash (hidden 4096): MXFP4 routed expert w1/w3 [2048, 4096] and w2 [4096, 2048]; FP8
  // attention projections of 1024 / 4096 rows; bf16 LM head [vocab, 4096] (rows capped).
  const Spec specs[] = {{"fp4 expert w1 2048x4096", '4', 2048, 4096}, {"fp4 expert w2 4096x2048", '4', 4096, 2048},
                        {"fp8 4096x1024", '8', 4096, 1024},           {"fp8 1024x4096", '8', 1024, 4096},
                        {"fp8 4096x4096", '8', 4096, 4096},           {"bf16 head", 'b', head_rows, 4096}};
  std::printf("%-26s %-7s %3s %5s %10s %9s %9s %7s\n", "shape", "tier", "thr", "mode", "MB", "us/call", "GB/s",
              "of_bw");
  std::vector<double> bw(threads.size());
  for (size_t t = 0; t < threads.size(); ++t) {
    set_num_threads(threads[t]);
    bw[t] = stream_read_gbs(ms);
    std::printf("%-26s %-7s %3d %5s %10d %9s %9.2f %6.0f%%\n", "stream read 1 GiB", "-", threads[t], "cold", 1024, "-",
                bw[t], 100.0);
  }
  for (const Spec& s : specs) {
    if (!only.empty() && std::string(s.name).find(only) == std::string::npos) continue;
    const int64_t one = s.kind == 'b' ? s.n * s.k * 2 : s.kind == '8' ? s.n * s.k : s.n * s.k / 2;
    const int copies = static_cast<int>(std::max<int64_t>(1, (kColdBytes + one - 1) / one));
    const Case c = make_case(s.name, s.kind, s.n, s.k, copies);
    const int64_t m_max = std::max<int64_t>(1, gemm_rows);
    const std::vector<float> x = random_acts(m_max * s.k, 7);
    std::vector<float> y(m_max * s.n);
    for (CpuTier tier : {CpuTier::kScalar, CpuTier::kAvx2, CpuTier::kAvx512}) {
      const LinearVariant* v = linear_variant(tier);
      if (!v) continue;
      for (size_t t = 0; t < threads.size(); ++t) {
        set_num_threads(threads[t]);
        for (int cold : {1, 0}) {
          if (!cold && c.bytes > (int64_t{16} << 20)) continue;  // hot only where a cache could hold it
          double sec = 0;
          run_case(*v, c, x, 1, cold ? copies : 1, y, ms, &sec);
          const double gbs = static_cast<double>(c.bytes) / sec / 1e9;
          std::printf("%-26s %-7s %3d %5s %10.1f %9.1f %9.2f %6.0f%%\n", s.name, v->name, threads[t],
                      cold ? "cold" : "hot", c.bytes / 1048576.0, sec * 1e6, gbs, 100.0 * gbs / bw[t]);
        }
        if (gemm_rows > 1) {
          double sec = 0;
          run_case(*v, c, x, gemm_rows, 1, y, ms, &sec);
          std::printf("%-26s %-7s %3d  m=%-3lld %8.1f %9.1f %9.2f GFLOP/s\n", s.name, v->name, threads[t],
                      static_cast<long long>(gemm_rows), c.bytes / 1048576.0, sec * 1e6,
                      2.0 * gemm_rows * s.n * s.k / sec / 1e9);
        }
        std::fflush(stdout);
      }
    }
  }
  set_num_threads(0);
  return 0;
}

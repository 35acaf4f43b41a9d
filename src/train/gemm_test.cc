// The trainer's GEMM: the run-time-chosen float kernel against the float64 one (within the fp32
// summation bound), every remainder shape, and independence of the thread count.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "base/splitmix64.h"
#include "base/thread_pool.h"
#include "train/gemm.h"

namespace dsv4::train {
namespace {

std::vector<float> rand_f(int64_t n, uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(r.normal());
  return v;
}

TEST(TrainGemm, MatchesFloat64WithinTheSummationBound) {
  for (int64_t m : {1, 5, 6, 7, 13, 25})
    for (int64_t n : {1, 7, 8, 15, 16, 17, 40})
      for (int64_t k : {1, 3, 64, 130}) {
        const std::vector<float> a = rand_f(m * k, m * 1000 + k), b = rand_f(k * n, n * 7 + k);
        std::vector<float> c = rand_f(m * n, 3);
        std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end()), cd(c.begin(), c.end());
        gemm_acc(m, n, k, a.data(), k, b.data(), n, c.data(), n);
        gemm_acc(m, n, k, ad.data(), k, bd.data(), n, cd.data(), n);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double mag = std::fabs(cd[i * n + j]);
            for (int64_t p = 0; p < k; ++p) mag += std::fabs(ad[i * k + p] * bd[p * n + j]);
            // k + 1 roundings of at most 2^-24 relative to the running magnitude.
            EXPECT_LE(std::fabs(c[i * n + j] - cd[i * n + j]), (k + 2) * 0x1.0p-24 * mag)
                << m << "x" << n << "x" << k << " at " << i << "," << j;
          }
      }
}

TEST(TrainGemm, ResultDoesNotDependOnTheThreadCount) {
  const int64_t m = 200, n = 96, k = 300;
  const std::vector<float> a = rand_f(m * k, 1), b = rand_f(k * n, 2);
  std::vector<float> c1(m * n, 0.0f), c2(m * n, 0.0f);
  const int before = num_threads();
  set_num_threads(1);
  gemm_acc(m, n, k, a.data(), k, b.data(), n, c1.data(), n);
  set_num_threads(3);
  gemm_acc(m, n, k, a.data(), k, b.data(), n, c2.data(), n);
  set_num_threads(before);
  EXPECT_EQ(c1, c2);
}

TEST(TrainGemm, ReportsItsSpeed) {  // a figure for the log, not a pass condition
  const int64_t m = 1024, n = 256, k = 512;
  const std::vector<float> a = rand_f(m * k, 1), b = rand_f(k * n, 2);
  std::vector<float> c(m * n, 0.0f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < 5; ++r) gemm_acc(m, n, k, a.data(), k, b.data(), n, c.data(), n);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("train gemm %lldx%lldx%lld: %.1f GFLOP/s on %d threads\n", (long long)m, (long long)n, (long long)k,
              5.0 * 2 * m * n * k / s / 1e9, num_threads());
  EXPECT_GT(s, 0.0);
}

}  // namespace
}  // namespace dsv4::train

#include "train/gemm.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "base/cpu_features.h"
#include "base/thread_pool.h"

namespace dsv4::train {
namespace {

// Rows [i0, i1) of C: 4 x 16 register tiles, k innermost (each C element sums in k order).
template <typename T>
inline void gemm_rows(int64_t i0, int64_t i1, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                      int64_t ldb, T* c, int64_t ldc) {
  constexpr int R = 4, W = 16;
  int64_t i = i0;
  for (; i + R <= i1; i += R) {
    int64_t j = 0;
    for (; j + W <= n; j += W) {
      T acc[R][W];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < W; ++t) acc[r][t] = c[(i + r) * ldc + j + t];
      for (int64_t p = 0; p < k; ++p) {
        const T* bp = b + p * ldb + j;
        for (int r = 0; r < R; ++r) {
          const T av = a[(i + r) * lda + p];
          for (int t = 0; t < W; ++t) acc[r][t] += av * bp[t];
        }
      }
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < W; ++t) c[(i + r) * ldc + j + t] = acc[r][t];
    }
    for (int r = 0; r < R; ++r)
      for (int64_t jj = j; jj < n; ++jj) {
        T s = c[(i + r) * ldc + jj];
        for (int64_t p = 0; p < k; ++p) s += a[(i + r) * lda + p] * b[p * ldb + jj];
        c[(i + r) * ldc + jj] = s;
      }
  }
  for (; i < i1; ++i) {
    T* ci = c + i * ldc;
    for (int64_t p = 0; p < k; ++p) {
      const T av = a[i * lda + p];
      const T* bp = b + p * ldb;
      for (int64_t jj = 0; jj < n; ++jj) ci[jj] += av * bp[jj];
    }
  }
}

}  // namespace

// train/gemm_avx2.cc (built with -mavx2 -mfma; called only when the CPU has both).
void gemm_rows_avx2(int64_t i0, int64_t i1, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                    int64_t ldb, float* c, int64_t ldc);

namespace {

template <typename T, typename Rows>
void gemm_parallel(int64_t m, int64_t n, int64_t k, Rows rows) {
  // Parts of whole 12-row tiles (both kernels' tile heights divide 12); small products stay on one thread.
  const int64_t tiles = (m + 11) / 12;
  if (m * n * k < (int64_t{1} << 16) || tiles < 2) {
    rows(0, m);
    return;
  }
  parallel_for(tiles, [&](int64_t t0, int64_t t1) { rows(t0 * 12, std::min(m, t1 * 12)); });
}

std::atomic<int64_t> g_flops{0};

}  // namespace

int64_t gemm_flops() { return g_flops.load(std::memory_order_relaxed); }

void gemm_acc(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc) {
  g_flops.fetch_add(2 * m * n * k, std::memory_order_relaxed);
  static const bool avx2 = cpu_features().avx2 && cpu_features().fma;
  gemm_parallel<float>(m, n, k, [&](int64_t i0, int64_t i1) {
    if (avx2)
      gemm_rows_avx2(i0, i1, n, k, a, lda, b, ldb, c, ldc);
    else
      gemm_rows<float>(i0, i1, n, k, a, lda, b, ldb, c, ldc);
  });
}

void gemm_acc(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb, double* c,
              int64_t ldc) {
  gemm_parallel<double>(m, n, k,
                        [&](int64_t i0, int64_t i1) { gemm_rows<double>(i0, i1, n, k, a, lda, b, ldb, c, ldc); });
}

template <typename T>
void linear_fwd(const T* x, const T* w, int64_t n, int64_t in, int64_t out, T* y) {
  std::vector<T> wt(static_cast<size_t>(in * out));
  transpose(w, out, in, wt.data());
  std::fill(y, y + n * out, T(0));
  gemm_acc(n, out, in, x, in, wt.data(), out, y, out);
}

template <typename T>
void linear_bwd(const T* dy, const T* x, const T* w, int64_t n, int64_t in, int64_t out, T* dx, T* dw) {
  if (dx) gemm_acc(n, in, out, dy, out, w, in, dx, in);
  if (dw) {
    std::vector<T> dyt(static_cast<size_t>(n * out));
    transpose(dy, n, out, dyt.data());
    gemm_acc(out, in, n, dyt.data(), n, x, in, dw, in);
  }
}

template void linear_fwd<float>(const float*, const float*, int64_t, int64_t, int64_t, float*);
template void linear_fwd<double>(const double*, const double*, int64_t, int64_t, int64_t, double*);
template void linear_bwd<float>(const float*, const float*, const float*, int64_t, int64_t, int64_t, float*, float*);
template void linear_bwd<double>(const double*, const double*, const double*, int64_t, int64_t, int64_t, double*,
                                 double*);

}  // namespace dsv4::train

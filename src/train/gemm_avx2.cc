// The AVX2 + FMA rows of train/gemm.h, blocked as GotoBLAS is: for each 256-deep slice of k, B's
// slice is packed into 16-column panels (sequential reads, L2-resident) and each 6-row strip of A
// into a k-major panel (sequential broadcasts); a 6 x 16 register tile (12 accumulators) then runs
// over the slice. Every C element is still one FMA chain in increasing k, started from C's value
// (splitting k into slices only stores and reloads the running sum, which is exact), so the
// result does not depend on the blocking or the thread count. FMA rounds once per step: results
// differ from the portable rows by rounding only (gemm_test.cc bounds it).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace dsv4::train {
namespace {

constexpr int kR = 6, kW = 16;
constexpr int64_t kSlice = 256;

// C[6][16] (row stride ldc) += Ap [kk][6] x Bp [kk][16]. The 12 accumulators are named variables:
// GCC keeps an accumulator array in memory at -O2, which halves the speed.
inline void tile_6x16(const float* ap, const float* bp, int64_t kk, float* c, int64_t ldc) {
#define DSV4_LOAD_ROW(r) \
  __m256 c##r##0 = _mm256_loadu_ps(c + (r) * ldc), c##r##1 = _mm256_loadu_ps(c + (r) * ldc + 8);
  DSV4_LOAD_ROW(0) DSV4_LOAD_ROW(1) DSV4_LOAD_ROW(2) DSV4_LOAD_ROW(3) DSV4_LOAD_ROW(4) DSV4_LOAD_ROW(5)
#undef DSV4_LOAD_ROW
  for (int64_t p = 0; p < kk; ++p) {
    const __m256 b0 = _mm256_loadu_ps(bp + p * kW), b1 = _mm256_loadu_ps(bp + p * kW + 8);
    const float* a = ap + p * kR;
#define DSV4_FMA_ROW(r)                               \
  {                                                   \
    const __m256 av = _mm256_broadcast_ss(a + (r));   \
    c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);       \
    c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);       \
  }
    DSV4_FMA_ROW(0) DSV4_FMA_ROW(1) DSV4_FMA_ROW(2) DSV4_FMA_ROW(3) DSV4_FMA_ROW(4) DSV4_FMA_ROW(5)
#undef DSV4_FMA_ROW
  }
#define DSV4_STORE_ROW(r) \
  _mm256_storeu_ps(c + (r) * ldc, c##r##0), _mm256_storeu_ps(c + (r) * ldc + 8, c##r##1);
  DSV4_STORE_ROW(0) DSV4_STORE_ROW(1) DSV4_STORE_ROW(2) DSV4_STORE_ROW(3) DSV4_STORE_ROW(4) DSV4_STORE_ROW(5)
#undef DSV4_STORE_ROW
}

// One row of C over columns [j0, n) and k [p0, p0 + kk): 8 lanes, then scalar (same FMA chains).
inline void row_rest(const float* a, const float* b, int64_t ldb, float* c, int64_t j0, int64_t n, int64_t p0,
                     int64_t kk) {
  int64_t j = j0;
  for (; j + 8 <= n; j += 8) {
    __m256 acc = _mm256_loadu_ps(c + j);
    for (int64_t p = p0; p < p0 + kk; ++p)
      acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + p), _mm256_loadu_ps(b + p * ldb + j), acc);
    _mm256_storeu_ps(c + j, acc);
  }
  for (; j < n; ++j) {
    float s = c[j];
    for (int64_t p = p0; p < p0 + kk; ++p) s = std::fma(a[p], b[p * ldb + j], s);
    c[j] = s;
  }
}

}  // namespace

void gemm_rows_avx2(int64_t i0, int64_t i1, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                    int64_t ldb, float* c, int64_t ldc) {
  const int64_t n16 = n / kW * kW;
  thread_local std::vector<float> bpack, apack;
  for (int64_t p0 = 0; p0 < k; p0 += kSlice) {
    const int64_t kk = std::min(kSlice, k - p0);
    bpack.resize(static_cast<size_t>(kk * n16));
    for (int64_t j = 0; j < n16; j += kW)
      for (int64_t p = 0; p < kk; ++p) std::copy_n(b + (p0 + p) * ldb + j, kW, &bpack[j * kk + p * kW]);
    apack.resize(static_cast<size_t>(kk * kR));
    int64_t i = i0;
    for (; i + kR <= i1; i += kR) {
      for (int64_t p = 0; p < kk; ++p)
        for (int r = 0; r < kR; ++r) apack[p * kR + r] = a[(i + r) * lda + p0 + p];
      for (int64_t j = 0; j < n16; j += kW) tile_6x16(apack.data(), &bpack[j * kk], kk, c + i * ldc + j, ldc);
      for (int r = 0; r < kR; ++r) row_rest(a + (i + r) * lda, b, ldb, c + (i + r) * ldc, n16, n, p0, kk);
    }
    for (; i < i1; ++i) row_rest(a + i * lda, b, ldb, c + i * ldc, 0, n, p0, kk);
  }
}

}  // namespace dsv4::train

// The AVX2 + FMA rows of train/gemm.h: 6 x 16 register tiles of C (12 accumulators), k innermost,
// so each C element is still summed by one thread in increasing k (FMA rounds once per step: the
// results differ from the portable rows by rounding only; gemm_test.cc bounds it).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace dsv4::train {

void gemm_rows_avx2(int64_t i0, int64_t i1, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                    int64_t ldb, float* c, int64_t ldc) {
  constexpr int R = 6;
  int64_t i = i0;
  for (; i + R <= i1; i += R) {
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      __m256 acc[R][2];
      for (int r = 0; r < R; ++r) {
        acc[r][0] = _mm256_loadu_ps(c + (i + r) * ldc + j);
        acc[r][1] = _mm256_loadu_ps(c + (i + r) * ldc + j + 8);
      }
      const float* ap = a + i * lda;
      for (int64_t p = 0; p < k; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b + p * ldb + j), b1 = _mm256_loadu_ps(b + p * ldb + j + 8);
        for (int r = 0; r < R; ++r) {
          const __m256 av = _mm256_broadcast_ss(ap + r * lda + p);
          acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
          acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
      }
      for (int r = 0; r < R; ++r) {
        _mm256_storeu_ps(c + (i + r) * ldc + j, acc[r][0]);
        _mm256_storeu_ps(c + (i + r) * ldc + j + 8, acc[r][1]);
      }
    }
    for (; j + 8 <= n; j += 8) {
      __m256 acc[R];
      for (int r = 0; r < R; ++r) acc[r] = _mm256_loadu_ps(c + (i + r) * ldc + j);
      for (int64_t p = 0; p < k; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b + p * ldb + j);
        for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + (i + r) * lda + p), b0, acc[r]);
      }
      for (int r = 0; r < R; ++r) _mm256_storeu_ps(c + (i + r) * ldc + j, acc[r]);
    }
    for (int r = 0; r < R; ++r)
      for (int64_t jj = j; jj < n; ++jj) {
        float s = c[(i + r) * ldc + jj];
        for (int64_t p = 0; p < k; ++p) s = std::fma(a[(i + r) * lda + p], b[p * ldb + jj], s);
        c[(i + r) * ldc + jj] = s;
      }
  }
  for (; i < i1; ++i) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      __m256 acc = _mm256_loadu_ps(c + i * ldc + j);
      for (int64_t p = 0; p < k; ++p)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * lda + p), _mm256_loadu_ps(b + p * ldb + j), acc);
      _mm256_storeu_ps(c + i * ldc + j, acc);
    }
    for (; j < n; ++j) {
      float s = c[i * ldc + j];
      for (int64_t p = 0; p < k; ++p) s = std::fma(a[i * lda + p], b[p * ldb + j], s);
      c[i * ldc + j] = s;
    }
  }
}

}  // namespace dsv4::train

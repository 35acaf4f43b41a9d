// Dense GEMMs of the trainer, in the one "axpy" form every product of a linear layer's forward and
// backward can be written in: C[m, n] += A[m, k] * B[k, n] (row-major). Each element of C is
// accumulated by one thread in increasing k, so results do not depend on the thread count, and the
// inner loops vectorize without reassociating sums. The float version runs an AVX2 + FMA kernel
// when the CPU has it (train/gemm_avx2.cc, chosen at run time) and the portable one otherwise; the
// double version serves the gradient checks.
#pragma once
#include <cstdint>

namespace dsv4::train {

void gemm_acc(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc);
void gemm_acc(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b, int64_t ldb, double* c,
              int64_t ldc);

// Floating-point operations (2 per multiply-add) every gemm_acc call has run so far, process-wide:
// the trainer's speed report divides them by wall time.
int64_t gemm_flops();

// out[cols, rows] = in[rows, cols]^T
template <typename T>
void transpose(const T* in, int64_t rows, int64_t cols, T* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

// A linear layer y[n, out] = x[n, in] W[out, in]^T (the checkpoint's [out, in] layout).
template <typename T>
void linear_fwd(const T* x, const T* w, int64_t n, int64_t in, int64_t out, T* y);  // y is overwritten
// dx[n, in] += dy W; dw[out, in] += dy^T x. Either of dx / dw may be null (not needed).
template <typename T>
void linear_bwd(const T* dy, const T* x, const T* w, int64_t n, int64_t in, int64_t out, T* dx, T* dw);

}  // namespace dsv4::train

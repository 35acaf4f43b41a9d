// The GEMM reference of `dsv4 bench`: oneDNN's bf16 x bf16 -> fp32 matmul at a prefill-like shape,
// as the best GEMM rate a tuned library reaches on this machine. Optional: without oneDNN at build
// time (DSV4_HAVE_ONEDNN undefined) it returns an error and the bench reports no GEMM peak.
#pragma once
#include <cstdint>
#include <string>

#include "base/status.h"

namespace dsv4::cli {

struct GemmResult {
  double gflops = 0;   // 2*M*N*K / best time
  double seconds = 0;  // best rep
  std::string impl;    // oneDNN's implementation name, e.g. "brg:avx512_core_amx" or "ref:any"
};

// A[M,K] bf16 x B[K,N] bf16 -> C[M,N] f32, best of `reps` after one warm-up run, on `threads`
// OpenMP threads (oneDNN's runtime here).
Result<GemmResult> onednn_matmul_gflops(int64_t m, int64_t n, int64_t k, int threads, int reps, bool bf16);

}  // namespace dsv4::cli

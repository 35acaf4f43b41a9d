// Runs a checkpoint linear layer in its stored format: FP8 / FP4 weights take the activation-
// quantized block GEMM, BF16 weights a plain fp32-accumulated GEMM with a bf16 result.
#pragma once
#include <cstdint>

#include "model/weights.h"

namespace dsv4::model {

// x: [m, w.cols] -> y: [m, w.rows]
void linear_forward(const LinearWeight& w, const float* x, int64_t m, float* y);

}  // namespace dsv4::model

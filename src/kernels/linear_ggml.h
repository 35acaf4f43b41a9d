// Linear layers over weights stored in ggml's block formats (GGUF files: Q8_0, Q4_K, Q6_K, Q2_K,
// IQ2_XXS, MXFP4, Q4_0, Q4_1, Q5_0, Q5_1, F16, BF16, F32). Each weight row is decoded block by block to fp32 exactly as
// ggml's dequantize_row_* does (tensor/ggml_quants.h is the reference decoder) and dotted with the
// fp32 activations in fp32. llama.cpp instead quantizes the activations (Q8_K / Q8_0) for its dot
// products; keeping them in fp32 is more accurate and costs nothing where decode is bound by the
// weight bytes.
//
// As in kernels/linear.h: every output element is computed by one thread in a fixed order that
// depends only on K, so results do not depend on m, on the other rows of the call or on the
// thread count. The CPU variant (scalar reference, AVX2, AVX-512) is chosen once from
// cpu_features(); AVX2 and AVX-512 share one canonical reduction order and agree bitwise.
#pragma once
#include <cstdint>

#include "base/cpu_features.h"
#include "tensor/ggml_type.h"

namespace dsv4::kernels {

// Weight [rows=N, cols=K] in ggml type `type`, row r at data + r * row_bytes.
struct GgmlMatrix {
  GgmlType type = GgmlType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0, cols = 0;
  uint64_t row_bytes = 0;
};

// Whether linear_ggml computes with this type.
bool linear_ggml_supported(GgmlType t);

// y[M,N] = x[M,K] @ dequant(W)^T, fp32 accumulation; every y rounded to bf16 if round_out (the
// engine's linears return bf16 values, as the reference's do).
void linear_ggml(const float* x, int64_t m, const GgmlMatrix& w, float* y, bool round_out);

// The scalar reference: each row decoded with dequantize_ggml_row, then a sequential fp32 dot.
void linear_ggml_scalar(const float* x, int64_t m, const GgmlMatrix& w, float* y, bool round_out);

// The CPU variants, for tests and benchmarks: the one of a tier (nullptr when this CPU, after
// DSV4_FORCE_CPU, cannot run it) and the one linear_ggml uses.
struct GgmlLinearVariant {
  const char* name;
  void (*run)(const float* x, int64_t m, const GgmlMatrix& w, float* y, bool round_out);
};
const GgmlLinearVariant* linear_ggml_variant(CpuTier tier);
const GgmlLinearVariant& selected_linear_ggml_variant();

}  // namespace dsv4::kernels

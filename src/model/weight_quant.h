// Quantization of full-precision weights into the checkpoint formats (spec §4.3): FP8 e4m3 with
// one UE8M0 scale per block, packed FP4 e2m1 with one UE8M0 scale per row per `block` inputs, each
// scale chosen by the reference's amax rule. Used by make-model (random weights) and by the
// trainer's export.
#pragma once
#include <cstdint>
#include <vector>

#include "io/safetensors_writer.h"

namespace dsv4 {

// FP8 e4m3 weight [rows, cols] + one UE8M0 scale per (br x bc) block.
void quantize_fp8(const std::vector<float>& w, int64_t rows, int64_t cols, int br, int bc, TensorBlob* weight,
                  TensorBlob* scale);
// Packed FP4 e2m1 weight [rows, cols/2] (low nibble = even element) + UE8M0 [rows, cols/block].
void quantize_fp4(const std::vector<float>& w, int64_t rows, int64_t cols, int block, TensorBlob* weight,
                  TensorBlob* scale);

}  // namespace dsv4

// A deepseek4 GGUF file seen as a Hugging Face checkpoint: every tensor under its HF name and in
// the dtype the engine's loader expects (model/weights.cc), so `-m FILE.gguf` runs like the
// checkpoint directory it was converted from.
//   * Tensors already in the expected dtype are zero-copy views of the mapping (BF16 embeddings,
//     head, gate and compressor weights; F32 hyper-connection, sink, APE and bias tensors).
//   * Linear weights stored as BF16 / F32 / F16 whose 128x128 blocks are exactly e4m3 x UE8M0
//     (a lossless conversion of the FP8 checkpoint) become FP8 codes and scales again, so the
//     engine runs the reference's FP8 path and the logits are bitwise those of the checkpoint.
//     Other BF16 linears run as bf16 linears, F16 / F32 ones through the ggml linear kernels.
//   * Stacked experts become per-expert views of the mapping (U8 with TensorInfo::ggml set): MXFP4
//     ones hold the checkpoint's FP4 codes and scales, which the FP4 kernels read in that layout
//     (no copy, the reference's FP4 path); other types run through the ggml linear kernels.
//   * Other linears in a block type (Q8_0, Q4_K, ...) are views too, for the ggml linear kernels.
//   * 1-D F32 norms become BF16 (exact when they came from BF16), the I32 hash table I64.
// Tensors the engine does not use (MTP, vision) are skipped with a note; unknown names and types
// without a conversion are errors naming the tensor and its type.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/checkpoint.h"

namespace dsv4 {

bool is_gguf_path(std::string_view path);  // ends in ".gguf"

// `wanted` (may be empty) filters by HF tensor name: tensors it rejects are not translated.
Result<std::unique_ptr<Checkpoint>> open_gguf_checkpoint(const std::string& path,
                                                         const std::function<bool(std::string_view)>& wanted);

}  // namespace dsv4

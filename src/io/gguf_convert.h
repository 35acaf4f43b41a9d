// Hugging Face DeepSeek-V4 checkpoint -> llama.cpp `deepseek4` GGUF (`dsv4 convert`), laid out as
// llama.cpp's own converter (conversion/deepseek.py) lays it out, so llama.cpp loads the file:
//   * FP8 linears (e4m3 + UE8M0 128x128 scales) dequantized and stored as `linear_type`: bf16 holds
//     them exactly (io/gguf_checkpoint.h turns them back into FP8 at load), q8_0 is what llama.cpp's
//     converter writes (lossy), f32 is exact and twice bf16's size;
//   * routed experts stacked per layer and projection into one MXFP4 tensor (lossless repack);
//   * other 2-D bf16 weights stay bf16, 1-D tensors become f32, tid2eid i32;
//   * the gate bias of hash layers (unused) and the MTP block are not written.
// The tokenizer keys are the caller's (cli/gguf_tokenizer.h); tensor bytes are produced one
// tensor at a time while the writer writes.
#pragma once
#include <string>

#include "base/status.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "io/gguf_writer.h"

namespace dsv4 {

struct GgufConvertOptions {
  GgmlType linear_type = GgmlType::kBF16;  // kBF16, kQ8_0 or kF32
  std::string name;                        // general.name ("" = none)
};

struct GgufConvertSummary {
  int tensors = 0;         // GGUF tensors added
  int skipped_mtp = 0;     // MTP tensors left out
  int64_t bytes = 0;       // tensor bytes to be written
};

// Adds the metadata (general.*, deepseek4.*) and every tensor of `ck` to `w`. `ck` must outlive
// w.write().
Result<GgufConvertSummary> add_deepseek4_model(const Checkpoint& ck, const ModelConfig& c,
                                               const GgufConvertOptions& o, GgufWriter& w);

}  // namespace dsv4

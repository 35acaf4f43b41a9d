// llama.cpp's `deepseek4` GGUF architecture, as its converter (conversion/deepseek.py) writes it and
// its loader (src/models/deepseek4.cpp, src/llama-arch.cpp) reads it: the metadata keys that carry
// the model config and the tensor names that correspond to the Hugging Face ones.
//
// The correspondence, besides renaming: FP8 linear weights (e4m3 + UE8M0 128x128 scales) are stored
// dequantized (BF16 holds them exactly; llama.cpp's own converter uses Q8_0), the routed experts of
// a layer are stacked into one MXFP4 tensor per projection ([E, F, d], the same e2m1 codes and
// UE8M0 scales per 32 as the checkpoint, nibbles reordered), 1-D tensors are F32, the hash routing
// table is I32, the gate bias of hash layers is dropped (unused), and the MTP block is not written
// (llama.cpp keeps it in a separate file): a GGUF model has num_nextn_predict_layers = 0.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/config.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"

namespace dsv4 {

inline constexpr std::string_view kGgufArchDeepseek4 = "deepseek4";

// The model metadata (everything but the tokenizer and general.file_type).
void write_deepseek4_metadata(const ModelConfig& c, const std::string& name, GgufWriter& w);

// The model config recovered from a deepseek4 GGUF's metadata (validated like a config.json).
// num_nextn_predict_layers is 0: the GGUF holds no MTP block.
Result<ModelConfig> deepseek4_config_from_gguf(const GgufFile& f);

// The GGUF name of a Hugging Face tensor of a main layer or of the model's ends, for every tensor
// stored one-to-one (not the experts, the FP8 scales or MTP tensors): nullopt otherwise.
std::optional<std::string> gguf_name_for_hf(std::string_view hf_name);
// The reverse: nullopt for names that are not one-to-one tensors of this architecture.
std::optional<std::string> hf_name_for_gguf(std::string_view gguf_name);
// "blk.{L}.ffn_{gate,down,up}_exps.weight" -> layer L and the HF projection "w1" / "w2" / "w3".
bool parse_gguf_expert_name(std::string_view gguf_name, int* layer, std::string* proj);
std::string gguf_expert_name(int layer, std::string_view proj);  // proj "w1" / "w2" / "w3"

}  // namespace dsv4

// Export of trained weights in the published Hugging Face layout (spec §4): every tensor of the
// schema (model/schema.h) in its checkpoint dtype, FP8 e4m3 weights with UE8M0 128x128 block
// scales, FP4 experts packed with one UE8M0 scale per 32 inputs, norms / embedding / head in bf16,
// HC parameters, sinks, positional biases and selection biases in f32, tid2eid as i64; config.json
// alongside. The engine, `dsv4 info` and the golden tooling load it unchanged. Quantization happens
// here and only here: training keeps full-precision master weights.
#pragma once
#include <string>

#include "base/status.h"
#include "train/params.h"

namespace dsv4::train {

// Writes the shards (as make-model lays them out: model/schema.h checkpoint_shards), the index,
// config.json (the given text, which must describe params' tensors) and generation_config.json.
Status export_checkpoint(const Params<float>& params, const std::string& config_json, const std::string& dir);

}  // namespace dsv4::train

// Typed, zero-copy handles to every tensor of a V4 checkpoint (spec §4.2), resolved by HF name.
// Shapes are checked against the config when loading; a mismatch names the tensor.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "kernels/linear.h"
#include "kernels/linear_ggml.h"
#include "model/placement.h"
#include "tensor/bf16.h"

namespace dsv4::model {

// A linear layer's weight in whichever format the checkpoint stores it.
struct LinearWeight {
  enum class Kind { kNone, kFp8, kFp4, kBf16, kGgml } kind = Kind::kNone;
  kernels::Fp8Matrix fp8;
  kernels::Fp4Matrix fp4;
  kernels::GgmlMatrix ggml;  // a GGUF file's block-quantized weight (Q8_0, Q4_K, ...)
  const bf16* bf = nullptr;
  int64_t rows = 0, cols = 0;  // logical [out, in]
};

struct HcSite {  // one hyper-connection mixer (attn or ffn)
  const float* fn = nullptr;    // [mix, hc*d]
  const float* base = nullptr;  // [mix]
  const float* scale = nullptr; // [3]
};

struct CompressorWeights {
  const bf16* wkv = nullptr;    // [c*Dc, d]
  const bf16* wgate = nullptr;  // [c*Dc, d]
  const float* ape = nullptr;   // [m, c*Dc]
  const bf16* norm = nullptr;   // [Dc]
  int head_dim = 0;             // Dc
  int ratio = 0;                // m
  bool overlap = false;         // m == 4: two halves, c = 2
};

struct IndexerWeights {
  LinearWeight wq_b;              // [n_heads*Dh, q_lora]
  const bf16* weights_proj = nullptr;  // [n_heads, d]
  CompressorWeights compressor;
};

struct ExpertWeights {
  LinearWeight w1, w2, w3;
};

struct LayerWeights {
  LayerSpec spec;
  bool loaded = false;  // false: another process runs this layer (placement.h)
  // Set when some of this layer's routed experts live in other processes; the experts this
  // process does not own then have Kind::kNone.
  ExpertLink* expert_link = nullptr;
  const bf16* attn_norm = nullptr;
  const bf16* ffn_norm = nullptr;
  HcSite hc_attn, hc_ffn;
  const float* attn_sink = nullptr;  // [H]
  LinearWeight wq_a, wq_b, wkv, wo_b;
  // [og*o_lora, H*D/og]. The reference dequantizes it to bf16 and runs a bf16 linear; we read the
  // FP8 blocks in place with the same order and the same (exact) values (linear_fp8_dequant).
  LinearWeight wo_a;
  const bf16* q_norm = nullptr;
  const bf16* kv_norm = nullptr;
  bool has_compressor = false, has_indexer = false;
  CompressorWeights compressor;
  IndexerWeights indexer;
  const bf16* gate = nullptr;        // [E, d]
  const float* gate_bias = nullptr;  // [E] (biased layers)
  const int64_t* tid2eid = nullptr;  // [vocab, k] (hash layers)
  std::vector<ExpertWeights> experts;
  ExpertWeights shared;
  // MTP only
  LinearWeight e_proj, h_proj;
  const bf16* enorm = nullptr;
  const bf16* hnorm = nullptr;
  const bf16* mtp_norm = nullptr;
  HcSite mtp_head;
};

struct ModelWeights {
  ModelConfig config;
  std::unique_ptr<Checkpoint> checkpoint;  // owns the mappings every pointer points into
  const bf16* embed = nullptr;             // [V, d]
  const bf16* head = nullptr;              // [V, d]
  const bf16* norm = nullptr;              // [d]
  HcSite hc_head;                          // fn [hc, hc*d], base [hc], scale [1]
  std::vector<LayerWeights> layers;        // main layers
  std::vector<LayerWeights> mtp;           // MTP blocks
  Placement placement;
};

// Opens the checkpoint directory, parses config.json, resolves and shape-checks every tensor.
Result<std::unique_ptr<ModelWeights>> load_weights(const std::string& dir);
// Only what `p` places in this process: the other layers keep their spec with loaded = false,
// experts owned elsewhere stay Kind::kNone, and shards holding none of it are not mapped.
Result<std::unique_ptr<ModelWeights>> load_weights(const std::string& dir, const Placement& p);
// Whether `p` needs the checkpoint tensor `name` (HF naming).
bool placement_wants(const ModelConfig& c, const Placement& p, std::string_view name);

}  // namespace dsv4::model

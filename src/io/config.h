// ModelConfig: the Hugging Face config.json of a DeepSeek-V4 checkpoint (spec §1.1), with the
// reference-code names of §1.2 accepted as aliases. Field names are the HF key names verbatim.
// Every dimension the engine uses comes from here; nothing is a compile-time constant.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsv4 {

enum class AttnKind { kWindow, kCsa, kHca };  // compress ratio 0, 4 (overlap + indexer), other > 0
enum class RouteKind { kHash, kBiasedTopk };

struct LayerSpec {
  int index = 0;
  int compress_ratio = 0;
  AttnKind attn = AttnKind::kWindow;
  RouteKind route = RouteKind::kBiasedTopk;
  bool is_mtp = false;
};

// Short names for printing: "window" / "csa" / "hca" and "hash" / "topk".
const char* attn_kind_name(AttnKind k);
const char* route_kind_name(RouteKind k);

struct ModelConfig {
  std::string model_type = "deepseek_v4";
  std::vector<std::string> architectures;  // e.g. {"DeepseekV4ForCausalLM"}
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 1;
  int head_dim = 0;
  int qk_rope_head_dim = 0;
  int q_lora_rank = 0;
  int o_groups = 0;
  int o_lora_rank = 0;
  int sliding_window = 0;
  int index_n_heads = 0;
  int index_head_dim = 0;
  int index_topk = 0;
  int n_routed_experts = 0;
  int n_shared_experts = 1;
  int num_experts_per_tok = 0;
  int moe_intermediate_size = 0;
  int num_hash_layers = 0;
  std::string scoring_func = "sqrtsoftplus";
  double routed_scaling_factor = 1.0;
  bool norm_topk_prob = true;
  std::string topk_method = "noaux_tc";
  double swiglu_limit = 0.0;
  std::string hidden_act = "silu";
  int hc_mult = 4;
  int hc_sinkhorn_iters = 20;
  double hc_eps = 1e-6;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double compress_rope_theta = 160000.0;
  // rope_scaling (YaRN); original_max_position_embeddings == 0 disables it.
  std::string rope_scaling_type;
  double rope_factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  int64_t max_position_embeddings = 0;
  std::vector<int> compress_ratios;  // num_hidden_layers + num_nextn_predict_layers entries
  int num_nextn_predict_layers = 1;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 1;
  bool tie_word_embeddings = false;
  std::string expert_dtype = "fp4";  // "fp4" (packed e2m1 + per-32 scales) or "fp8"
  std::string torch_dtype = "bfloat16";
  // Keys of §1.1 that the engine does not use but validates (type and, where it matters, value).
  bool attention_bias = false;  // must be false: V4 has no attention bias
  double attention_dropout = 0.0;
  double initializer_range = 0.02;
  std::string transformers_version;
  bool use_cache = true;
  // quantization_config
  std::string quant_method = "fp8";
  std::string quant_fmt = "e4m3";
  std::string quant_scale_fmt = "ue8m0";
  std::string activation_scheme = "dynamic";
  int weight_block_rows = 128;
  int weight_block_cols = 128;
  int fp4_block_size = 32;  // reference-code constant (§1.2): one expert scale per 32 inputs

  // Derived sizes.
  int nope_head_dim() const { return head_dim - qk_rope_head_dim; }
  int64_t hc_dim() const { return static_cast<int64_t>(hc_mult) * hidden_size; }
  int hc_mix() const { return (2 + hc_mult) * hc_mult; }
  int n_layers_total() const { return num_hidden_layers + num_nextn_predict_layers; }
  // Layers 0..num_hidden_layers-1, then the MTP blocks (is_mtp), in compress_ratios order.
  std::vector<LayerSpec> layers() const;
  LayerSpec layer(int i) const;
};

Result<ModelConfig> parse_model_config(const std::string& json_text, const std::string& label);
// A config.json, a directory holding one, or a deepseek4 *.gguf (config from its metadata).
Result<ModelConfig> load_model_config(const std::string& path);

}  // namespace dsv4

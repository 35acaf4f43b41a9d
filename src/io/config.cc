#include "io/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "io/gguf_checkpoint.h"
#include "io/gguf_deepseek4.h"

namespace dsv4 {
namespace {

using nlohmann::json;

// Reads the first present key of `names` (HF name first, then reference-code aliases).
template <typename T>
Status read_key(const json& j, std::initializer_list<const char*> names, T* out, bool required,
                const std::string& label) {
  for (const char* n : names) {
    auto it = j.find(n);
    if (it == j.end() || it->is_null()) continue;
    try {
      if constexpr (std::is_same_v<T, bool>) {
        if (!it->is_boolean()) return error("{}: '{}' must be a boolean", label, n);
      } else if constexpr (std::is_arithmetic_v<T>) {
        if (!it->is_number()) return error("{}: '{}' must be a number", label, n);
        if constexpr (std::is_integral_v<T>) {
          if (!it->is_number_integer() && it->get<double>() != static_cast<double>(it->get<int64_t>()))
            return error("{}: '{}' must be an integer", label, n);
        }
      } else {
        if (!it->is_string()) return error("{}: '{}' must be a string", label, n);
      }
      *out = it->get<T>();
    } catch (const std::exception& e) {
      return error("{}: '{}': {}", label, n, e.what());
    }
    return ok_status();
  }
  if (required) return error("{}: missing required key '{}'", label, *names.begin());
  return ok_status();
}

}  // namespace

const char* attn_kind_name(AttnKind k) {
  switch (k) {
    case AttnKind::kWindow: return "window";
    case AttnKind::kCsa: return "csa";
    case AttnKind::kHca: return "hca";
  }
  return "?";
}

const char* route_kind_name(RouteKind k) { return k == RouteKind::kHash ? "hash" : "topk"; }

std::vector<LayerSpec> ModelConfig::layers() const {
  std::vector<LayerSpec> v;
  for (int i = 0; i < n_layers_total(); ++i) v.push_back(layer(i));
  return v;
}

LayerSpec ModelConfig::layer(int i) const {
  LayerSpec s;
  s.index = i;
  s.is_mtp = i >= num_hidden_layers;
  s.compress_ratio = i < static_cast<int>(compress_ratios.size()) ? compress_ratios[i] : 0;
  s.attn = s.compress_ratio == 0 ? AttnKind::kWindow : (s.compress_ratio == 4 ? AttnKind::kCsa : AttnKind::kHca);
  s.route = (!s.is_mtp && i < num_hash_layers) ? RouteKind::kHash : RouteKind::kBiasedTopk;
  return s;
}

Result<ModelConfig> parse_model_config(const std::string& text, const std::string& label) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return error("{}: not valid JSON", label);
  if (!j.is_object()) return error("{}: config is not a JSON object", label);
  ModelConfig c;
  const std::string& L = label;
  DSV4_TRY(read_key(j, {"model_type"}, &c.model_type, false, L));
  if (c.model_type != "deepseek_v4")
    return error("{}: model_type '{}' is not supported (expected deepseek_v4)", L, c.model_type);
  if (auto a = j.find("architectures"); a != j.end() && !a->is_null()) {
    if (!a->is_array()) return error("{}: 'architectures' must be an array of strings", L);
    for (const auto& e : *a) {
      if (!e.is_string()) return error("{}: 'architectures' must be an array of strings", L);
      c.architectures.push_back(e.get<std::string>());
    }
  }
  DSV4_TRY(read_key(j, {"vocab_size"}, &c.vocab_size, true, L));
  DSV4_TRY(read_key(j, {"hidden_size", "dim"}, &c.hidden_size, true, L));
  DSV4_TRY(read_key(j, {"num_hidden_layers", "n_layers"}, &c.num_hidden_layers, true, L));
  DSV4_TRY(read_key(j, {"num_attention_heads", "n_heads"}, &c.num_attention_heads, true, L));
  DSV4_TRY(read_key(j, {"num_key_value_heads"}, &c.num_key_value_heads, false, L));
  DSV4_TRY(read_key(j, {"head_dim"}, &c.head_dim, true, L));
  DSV4_TRY(read_key(j, {"qk_rope_head_dim", "rope_head_dim"}, &c.qk_rope_head_dim, true, L));
  DSV4_TRY(read_key(j, {"q_lora_rank"}, &c.q_lora_rank, true, L));
  DSV4_TRY(read_key(j, {"o_groups"}, &c.o_groups, true, L));
  DSV4_TRY(read_key(j, {"o_lora_rank"}, &c.o_lora_rank, true, L));
  DSV4_TRY(read_key(j, {"sliding_window", "window_size"}, &c.sliding_window, true, L));
  DSV4_TRY(read_key(j, {"index_n_heads"}, &c.index_n_heads, true, L));
  DSV4_TRY(read_key(j, {"index_head_dim"}, &c.index_head_dim, true, L));
  DSV4_TRY(read_key(j, {"index_topk"}, &c.index_topk, true, L));
  DSV4_TRY(read_key(j, {"n_routed_experts"}, &c.n_routed_experts, true, L));
  DSV4_TRY(read_key(j, {"n_shared_experts"}, &c.n_shared_experts, false, L));
  DSV4_TRY(read_key(j, {"num_experts_per_tok", "n_activated_experts"}, &c.num_experts_per_tok, true, L));
  DSV4_TRY(read_key(j, {"moe_intermediate_size", "moe_inter_dim"}, &c.moe_intermediate_size, true, L));
  DSV4_TRY(read_key(j, {"num_hash_layers", "n_hash_layers"}, &c.num_hash_layers, false, L));
  DSV4_TRY(read_key(j, {"scoring_func", "score_func"}, &c.scoring_func, false, L));
  DSV4_TRY(read_key(j, {"routed_scaling_factor", "route_scale"}, &c.routed_scaling_factor, false, L));
  DSV4_TRY(read_key(j, {"norm_topk_prob"}, &c.norm_topk_prob, false, L));
  DSV4_TRY(read_key(j, {"topk_method"}, &c.topk_method, false, L));
  DSV4_TRY(read_key(j, {"swiglu_limit"}, &c.swiglu_limit, false, L));
  DSV4_TRY(read_key(j, {"hidden_act"}, &c.hidden_act, false, L));
  DSV4_TRY(read_key(j, {"hc_mult"}, &c.hc_mult, false, L));
  DSV4_TRY(read_key(j, {"hc_sinkhorn_iters"}, &c.hc_sinkhorn_iters, false, L));
  DSV4_TRY(read_key(j, {"hc_eps"}, &c.hc_eps, false, L));
  DSV4_TRY(read_key(j, {"rms_norm_eps", "norm_eps"}, &c.rms_norm_eps, false, L));
  DSV4_TRY(read_key(j, {"rope_theta"}, &c.rope_theta, false, L));
  DSV4_TRY(read_key(j, {"compress_rope_theta"}, &c.compress_rope_theta, false, L));
  DSV4_TRY(read_key(j, {"max_position_embeddings"}, &c.max_position_embeddings, false, L));
  DSV4_TRY(read_key(j, {"num_nextn_predict_layers", "n_mtp_layers"}, &c.num_nextn_predict_layers, false, L));
  DSV4_TRY(read_key(j, {"bos_token_id"}, &c.bos_token_id, false, L));
  DSV4_TRY(read_key(j, {"eos_token_id"}, &c.eos_token_id, false, L));
  DSV4_TRY(read_key(j, {"tie_word_embeddings"}, &c.tie_word_embeddings, false, L));
  DSV4_TRY(read_key(j, {"expert_dtype"}, &c.expert_dtype, false, L));
  DSV4_TRY(read_key(j, {"torch_dtype"}, &c.torch_dtype, false, L));
  DSV4_TRY(read_key(j, {"attention_bias"}, &c.attention_bias, false, L));
  DSV4_TRY(read_key(j, {"attention_dropout"}, &c.attention_dropout, false, L));
  DSV4_TRY(read_key(j, {"initializer_range"}, &c.initializer_range, false, L));
  DSV4_TRY(read_key(j, {"transformers_version"}, &c.transformers_version, false, L));
  DSV4_TRY(read_key(j, {"use_cache"}, &c.use_cache, false, L));
  // Reference-code (inference/config.json) spellings of the weight format (§1.2).
  {
    std::string ref_dtype;
    DSV4_TRY(read_key(j, {"dtype"}, &ref_dtype, false, L));
    if (!ref_dtype.empty() && ref_dtype != "fp8")
      return error("{}: dtype '{}' is not supported (only fp8 checkpoints)", L, ref_dtype);
    DSV4_TRY(read_key(j, {"scale_fmt"}, &c.quant_scale_fmt, false, L));
  }
  // Reference-code flat YaRN keys (§1.2) ...
  DSV4_TRY(read_key(j, {"original_seq_len"}, &c.original_max_position_embeddings, false, L));
  DSV4_TRY(read_key(j, {"rope_factor"}, &c.rope_factor, false, L));
  DSV4_TRY(read_key(j, {"beta_fast"}, &c.beta_fast, false, L));
  DSV4_TRY(read_key(j, {"beta_slow"}, &c.beta_slow, false, L));
  // ... and the HF rope_scaling object, which wins when present.
  if (auto rs = j.find("rope_scaling"); rs != j.end() && !rs->is_null()) {
    if (!rs->is_object()) return error("{}: 'rope_scaling' must be an object", L);
    const std::string RL = L + ": rope_scaling";
    DSV4_TRY(read_key(*rs, {"type", "rope_type"}, &c.rope_scaling_type, false, RL));
    DSV4_TRY(read_key(*rs, {"factor"}, &c.rope_factor, true, RL));
    DSV4_TRY(read_key(*rs, {"original_max_position_embeddings"}, &c.original_max_position_embeddings, true, RL));
    DSV4_TRY(read_key(*rs, {"beta_fast"}, &c.beta_fast, false, RL));
    DSV4_TRY(read_key(*rs, {"beta_slow"}, &c.beta_slow, false, RL));
    if (!c.rope_scaling_type.empty() && c.rope_scaling_type != "yarn")
      return error("{}: rope_scaling type '{}' is not supported (only yarn)", L, c.rope_scaling_type);
  }
  if (auto qc = j.find("quantization_config"); qc != j.end() && !qc->is_null()) {
    if (!qc->is_object()) return error("{}: 'quantization_config' must be an object", L);
    const std::string QL = L + ": quantization_config";
    DSV4_TRY(read_key(*qc, {"quant_method"}, &c.quant_method, false, QL));
    DSV4_TRY(read_key(*qc, {"fmt"}, &c.quant_fmt, false, QL));
    DSV4_TRY(read_key(*qc, {"scale_fmt"}, &c.quant_scale_fmt, false, QL));
    DSV4_TRY(read_key(*qc, {"activation_scheme"}, &c.activation_scheme, false, QL));
    if (auto wb = qc->find("weight_block_size"); wb != qc->end()) {
      if (!wb->is_array() || wb->size() != 2 || !(*wb)[0].is_number_integer() || !(*wb)[1].is_number_integer())
        return error("{}: weight_block_size must be [rows, cols]", QL);
      c.weight_block_rows = (*wb)[0].get<int>();
      c.weight_block_cols = (*wb)[1].get<int>();
    }
  }
  // The checkpoint layout of §4.3 is the only weight format the engine reads.
  if (c.quant_method != "fp8") return error("{}: quantization_config.quant_method '{}' is not supported (fp8)", L, c.quant_method);
  if (c.quant_fmt != "e4m3") return error("{}: quantization_config.fmt '{}' is not supported (e4m3)", L, c.quant_fmt);
  if (c.quant_scale_fmt != "ue8m0")
    return error("{}: scale_fmt '{}' is not supported (ue8m0)", L, c.quant_scale_fmt);
  if (c.weight_block_rows <= 0 || c.weight_block_cols <= 0)
    return error("{}: quantization_config.weight_block_size must be positive", L);
  auto cr = j.find("compress_ratios");
  if (cr == j.end() || !cr->is_array()) return error("{}: missing required array 'compress_ratios'", L);
  for (const auto& r : *cr) {
    if (!r.is_number_integer() || r.get<int64_t>() < 0 || r.get<int64_t>() == 1 || r.get<int64_t>() > (1 << 20))
      return error("{}: compress_ratios entries must be 0 (window only) or integers in [2, 2^20], got {}", L, r.dump());
    c.compress_ratios.push_back(r.get<int>());
  }

  // Structural validation: everything the forward pass divides by or indexes with.
  auto positive = [&](int64_t v, const char* name) -> Status {
    return v > 0 ? ok_status() : error("{}: '{}' must be > 0 (got {})", L, name, v);
  };
  DSV4_TRY(positive(c.vocab_size, "vocab_size"));
  DSV4_TRY(positive(c.hidden_size, "hidden_size"));
  DSV4_TRY(positive(c.num_hidden_layers, "num_hidden_layers"));
  DSV4_TRY(positive(c.num_attention_heads, "num_attention_heads"));
  DSV4_TRY(positive(c.head_dim, "head_dim"));
  DSV4_TRY(positive(c.q_lora_rank, "q_lora_rank"));
  DSV4_TRY(positive(c.o_groups, "o_groups"));
  DSV4_TRY(positive(c.o_lora_rank, "o_lora_rank"));
  DSV4_TRY(positive(c.sliding_window, "sliding_window"));
  DSV4_TRY(positive(c.n_routed_experts, "n_routed_experts"));
  DSV4_TRY(positive(c.num_experts_per_tok, "num_experts_per_tok"));
  DSV4_TRY(positive(c.moe_intermediate_size, "moe_intermediate_size"));
  DSV4_TRY(positive(c.hc_mult, "hc_mult"));
  DSV4_TRY(positive(c.hc_sinkhorn_iters, "hc_sinkhorn_iters"));
  if (c.qk_rope_head_dim <= 0 || c.qk_rope_head_dim % 2 || c.qk_rope_head_dim > c.head_dim)
    return error("{}: qk_rope_head_dim {} must be even and in (0, head_dim={}]", L, c.qk_rope_head_dim, c.head_dim);
  // The KV rows' non-RoPE part is FP8-simulated in blocks of 64 (the reference asserts this).
  if ((c.head_dim - c.qk_rope_head_dim) % 64)
    return error("{}: head_dim - qk_rope_head_dim = {} must be a multiple of 64 (FP8 KV blocks)", L,
                 c.head_dim - c.qk_rope_head_dim);
  if (c.num_attention_heads % c.o_groups)
    return error("{}: num_attention_heads {} is not divisible by o_groups {}", L, c.num_attention_heads, c.o_groups);
  if (c.num_experts_per_tok > c.n_routed_experts)
    return error("{}: num_experts_per_tok {} exceeds n_routed_experts {}", L, c.num_experts_per_tok, c.n_routed_experts);
  if (c.num_key_value_heads != 1) return error("{}: num_key_value_heads must be 1 (V4 uses one shared KV head)", L);
  if (c.n_shared_experts != 1) return error("{}: n_shared_experts must be 1 (got {})", L, c.n_shared_experts);
  if (c.num_nextn_predict_layers < 0) return error("{}: num_nextn_predict_layers must be >= 0", L);
  if (c.num_hash_layers < 0 || c.num_hash_layers > c.num_hidden_layers)
    return error("{}: num_hash_layers {} out of range", L, c.num_hash_layers);
  if (static_cast<int>(c.compress_ratios.size()) != c.n_layers_total())
    return error("{}: compress_ratios has {} entries, expected num_hidden_layers + num_nextn_predict_layers = {}", L,
                 c.compress_ratios.size(), c.n_layers_total());
  if (c.scoring_func != "sqrtsoftplus" && c.scoring_func != "sigmoid" && c.scoring_func != "softmax")
    return error("{}: unknown scoring_func '{}'", L, c.scoring_func);
  if (c.expert_dtype != "fp4" && c.expert_dtype != "fp8")
    return error("{}: unsupported expert_dtype '{}' (fp4 or fp8)", L, c.expert_dtype);
  if (c.attention_bias) return error("{}: attention_bias must be false (V4 has no attention bias)", L);
  if (c.expert_dtype == "fp4" && (c.hidden_size % c.fp4_block_size || c.moe_intermediate_size % c.fp4_block_size))
    return error("{}: hidden_size {} and moe_intermediate_size {} must be multiples of {} for fp4 experts", L,
                 c.hidden_size, c.moe_intermediate_size, c.fp4_block_size);

  bool any_csa = false;
  for (int r : c.compress_ratios) any_csa |= r == 4;
  if (any_csa) {
    DSV4_TRY(positive(c.index_n_heads, "index_n_heads"));
    DSV4_TRY(positive(c.index_topk, "index_topk"));
    if (c.index_head_dim < c.qk_rope_head_dim || c.index_head_dim & (c.index_head_dim - 1))
      return error("{}: index_head_dim {} must be a power of two >= qk_rope_head_dim", L, c.index_head_dim);
    if (c.index_head_dim % 32)
      return error("{}: index_head_dim {} must be a multiple of 32 (FP4 indexer blocks)", L, c.index_head_dim);
  }
  return c;
}

Result<ModelConfig> load_model_config(const std::string& path) {
  if (is_gguf_path(path) && std::filesystem::is_regular_file(path)) {
    DSV4_ASSIGN_OR_RETURN(auto f, GgufFile::open(path));
    return deepseek4_config_from_gguf(*f);
  }
  std::string p = path;
  if (std::filesystem::is_directory(p)) p = (std::filesystem::path(p) / "config.json").string();
  std::ifstream in(p, std::ios::binary);
  if (!in) return error("{}: cannot open config", p);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_model_config(ss.str(), p);
}

}  // namespace dsv4

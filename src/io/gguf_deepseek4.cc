#include "io/gguf_deepseek4.h"

#include <array>
#include <charconv>

#include <nlohmann/json.hpp>

namespace dsv4 {
namespace {

constexpr uint32_t kGatingSoftmax = 1, kGatingSigmoid = 2, kGatingSqrtSoftplus = 4;  // gguf-py ExpertGatingFuncType

std::string key(std::string_view k) { return fmt::format("{}.{}", kGgufArchDeepseek4, k); }

struct NamePair {
  std::string_view hf;    // after "layers.{L}." (or the whole name for the ends)
  std::string_view gguf;  // after "blk.{L}." (or the whole name)
};

constexpr std::array<NamePair, 6> kRootNames{{
    {"embed.weight", "token_embd.weight"},
    {"norm.weight", "output_norm.weight"},
    {"head.weight", "output.weight"},
    {"hc_head_fn", "output_hc_fn.weight"},
    {"hc_head_base", "output_hc_base.weight"},
    {"hc_head_scale", "output_hc_scale.weight"},
}};

constexpr std::array<NamePair, 33> kLayerNames{{
    {"hc_attn_fn", "hc_attn_fn.weight"},
    {"hc_attn_base", "hc_attn_base.weight"},
    {"hc_attn_scale", "hc_attn_scale.weight"},
    {"hc_ffn_fn", "hc_ffn_fn.weight"},
    {"hc_ffn_base", "hc_ffn_base.weight"},
    {"hc_ffn_scale", "hc_ffn_scale.weight"},
    {"attn.attn_sink", "attn_sinks.weight"},
    {"attn.wq_a.weight", "attn_q_a.weight"},
    {"attn.wq_b.weight", "attn_q_b.weight"},
    {"attn.q_norm.weight", "attn_q_a_norm.weight"},
    {"attn.wkv.weight", "attn_kv.weight"},
    {"attn.kv_norm.weight", "attn_kv_a_norm.weight"},
    {"attn.wo_a.weight", "attn_output_a.weight"},
    {"attn.wo_b.weight", "attn_output_b.weight"},
    {"attn.compressor.ape", "attn_compressor_ape.weight"},
    {"attn.compressor.wkv.weight", "attn_compressor_kv.weight"},
    {"attn.compressor.wgate.weight", "attn_compressor_gate.weight"},
    {"attn.compressor.norm.weight", "attn_compressor_norm.weight"},
    {"attn.indexer.wq_b.weight", "indexer.attn_q_b.weight"},
    {"attn.indexer.weights_proj.weight", "indexer.proj.weight"},
    {"attn.indexer.compressor.ape", "indexer_compressor_ape.weight"},
    {"attn.indexer.compressor.wkv.weight", "indexer_compressor_kv.weight"},
    {"attn.indexer.compressor.wgate.weight", "indexer_compressor_gate.weight"},
    {"attn.indexer.compressor.norm.weight", "indexer_compressor_norm.weight"},
    {"attn_norm.weight", "attn_norm.weight"},
    {"ffn_norm.weight", "ffn_norm.weight"},
    {"ffn.gate.weight", "ffn_gate_inp.weight"},
    {"ffn.gate.bias", "exp_probs_b.bias"},
    {"ffn.gate.tid2eid", "ffn_gate_tid2eid.weight"},
    {"ffn.shared_experts.w1.weight", "ffn_gate_shexp.weight"},
    {"ffn.shared_experts.w2.weight", "ffn_down_shexp.weight"},
    {"ffn.shared_experts.w3.weight", "ffn_up_shexp.weight"},
    {"ffn.gate.bias_vl", "exp_probs_b_vl.bias"},
}};

constexpr std::array<NamePair, 3> kExpertProj{{{"w1", "ffn_gate_exps.weight"},
                                               {"w2", "ffn_down_exps.weight"},
                                               {"w3", "ffn_up_exps.weight"}}};

// "{prefix}{L}.{rest}" -> L and rest.
bool split_layer(std::string_view s, std::string_view prefix, int* layer, std::string_view* rest) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 9) return false;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + dot, v);
  if (ec != std::errc() || p != s.data() + dot) return false;
  *layer = v;
  *rest = s.substr(dot + 1);
  return true;
}

}  // namespace

void write_deepseek4_metadata(const ModelConfig& c, const std::string& name, GgufWriter& w) {
  w.set_string("general.architecture", std::string(kGgufArchDeepseek4));
  w.set_u32("general.quantization_version", 2);
  if (!name.empty()) w.set_string("general.name", name);
  const uint32_t n = static_cast<uint32_t>(c.num_hidden_layers);
  w.set_u32(key("block_count"), n);
  w.set_u32(key("context_length"), static_cast<uint32_t>(c.max_position_embeddings));
  w.set_u32(key("embedding_length"), static_cast<uint32_t>(c.hidden_size));
  w.set_u32(key("vocab_size"), static_cast<uint32_t>(c.vocab_size));
  w.set_u32(key("attention.head_count"), static_cast<uint32_t>(c.num_attention_heads));
  w.set_u32(key("attention.head_count_kv"), static_cast<uint32_t>(c.num_key_value_heads));
  if (c.original_max_position_embeddings > 0) {
    w.set_string(key("rope.scaling.type"), "yarn");
    w.set_f32(key("rope.scaling.factor"), static_cast<float>(c.rope_factor));
    w.set_u32(key("rope.scaling.original_context_length"), static_cast<uint32_t>(c.original_max_position_embeddings));
    w.set_f32(key("rope.scaling.yarn_beta_fast"), static_cast<float>(c.beta_fast));
    w.set_f32(key("rope.scaling.yarn_beta_slow"), static_cast<float>(c.beta_slow));
  }
  w.set_f32(key("rope.freq_base"), static_cast<float>(c.rope_theta));
  w.set_f32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_norm_eps));
  w.set_u32(key("expert_count"), static_cast<uint32_t>(c.n_routed_experts));
  w.set_u32(key("expert_used_count"), static_cast<uint32_t>(c.num_experts_per_tok));
  w.set_u32(key("expert_gating_func"), c.scoring_func == "softmax"   ? kGatingSoftmax
                                       : c.scoring_func == "sigmoid" ? kGatingSigmoid
                                                                     : kGatingSqrtSoftplus);
  w.set_u32(key("attention.key_length"), static_cast<uint32_t>(c.head_dim));
  w.set_u32(key("attention.value_length"), static_cast<uint32_t>(c.head_dim));
  w.set_u32(key("rope.dimension_count"), static_cast<uint32_t>(c.qk_rope_head_dim));
  w.set_u32(key("attention.q_lora_rank"), static_cast<uint32_t>(c.q_lora_rank));
  w.set_u32(key("attention.sliding_window"), static_cast<uint32_t>(c.sliding_window));
  w.set_u32(key("expert_feed_forward_length"), static_cast<uint32_t>(c.moe_intermediate_size));
  w.set_u32(key("expert_shared_count"), static_cast<uint32_t>(c.n_shared_experts));
  w.set_f32(key("expert_weights_scale"), static_cast<float>(c.routed_scaling_factor));
  w.set_bool(key("expert_weights_norm"), c.norm_topk_prob);
  w.set_f32_array(key("swiglu_clamp_exp"), std::vector<float>(n, static_cast<float>(c.swiglu_limit)));
  w.set_f32_array(key("swiglu_clamp_shexp"), std::vector<float>(n, static_cast<float>(c.swiglu_limit)));
  w.set_u32(key("attention.indexer.head_count"), static_cast<uint32_t>(c.index_n_heads));
  w.set_u32(key("attention.indexer.key_length"), static_cast<uint32_t>(c.index_head_dim));
  w.set_u32(key("attention.indexer.top_k"), static_cast<uint32_t>(c.index_topk));
  w.set_u32(key("attention.output_group_count"), static_cast<uint32_t>(c.o_groups));
  w.set_u32(key("attention.output_lora_rank"), static_cast<uint32_t>(c.o_lora_rank));
  // The converter writes the checkpoint's whole list (MTP entries included); llama.cpp reads the
  // first block_count entries.
  w.set_i32_array(key("attention.compress_ratios"), std::vector<int32_t>(c.compress_ratios.begin(), c.compress_ratios.end()));
  w.set_f32(key("attention.compress_rope_freq_base"), static_cast<float>(c.compress_rope_theta));
  w.set_u32(key("hyper_connection.count"), static_cast<uint32_t>(c.hc_mult));
  w.set_u32(key("hyper_connection.sinkhorn_iterations"), static_cast<uint32_t>(c.hc_sinkhorn_iters));
  w.set_f32(key("hyper_connection.epsilon"), static_cast<float>(c.hc_eps));
  w.set_u32(key("hash_layer_count"), static_cast<uint32_t>(c.num_hash_layers));
  w.set_u32(key("embedding_length_out"), static_cast<uint32_t>(c.hidden_size * c.hc_mult));
}

Result<ModelConfig> deepseek4_config_from_gguf(const GgufFile& f) {
  DSV4_ASSIGN_OR_RETURN(std::string arch, f.get_string("general.architecture"));
  if (arch != kGgufArchDeepseek4)
    return error("{}: general.architecture is '{}', this engine runs '{}' (DeepSeek-V4) files", f.path(), arch,
                 kGgufArchDeepseek4);
  nlohmann::json j;
  j["model_type"] = "deepseek_v4";
  j["architectures"] = {"DeepseekV4ForCausalLM"};
  auto get_i = [&](std::string_view k, const char* hf) -> Status {
    DSV4_ASSIGN_OR_RETURN(int64_t v, f.get_int(key(k)));
    j[hf] = v;
    return ok_status();
  };
  auto get_f = [&](std::string_view k, const char* hf) -> Status {
    DSV4_ASSIGN_OR_RETURN(double v, f.get_float(key(k)));
    j[hf] = v;
    return ok_status();
  };
  // float32 metadata widened to double: print-round-trip to the shortest decimal so that
  // 1e-6f reads back as 1e-06 (what config.json said), not 9.99999997e-07.
  auto f32_clean = [](double v) { return std::stod(fmt::format("{}", static_cast<float>(v))); };
  DSV4_TRY(get_i("embedding_length", "hidden_size"));
  DSV4_TRY(get_i("block_count", "num_hidden_layers"));
  DSV4_TRY(get_i("attention.head_count", "num_attention_heads"));
  if (f.find(key("attention.head_count_kv"))) DSV4_TRY(get_i("attention.head_count_kv", "num_key_value_heads"));
  DSV4_TRY(get_i("attention.key_length", "head_dim"));
  DSV4_TRY(get_i("rope.dimension_count", "qk_rope_head_dim"));
  DSV4_TRY(get_i("attention.q_lora_rank", "q_lora_rank"));
  DSV4_TRY(get_i("attention.output_group_count", "o_groups"));
  DSV4_TRY(get_i("attention.output_lora_rank", "o_lora_rank"));
  DSV4_TRY(get_i("attention.sliding_window", "sliding_window"));
  DSV4_TRY(get_i("attention.indexer.head_count", "index_n_heads"));
  DSV4_TRY(get_i("attention.indexer.key_length", "index_head_dim"));
  DSV4_TRY(get_i("attention.indexer.top_k", "index_topk"));
  DSV4_TRY(get_i("expert_count", "n_routed_experts"));
  DSV4_TRY(get_i("expert_used_count", "num_experts_per_tok"));
  DSV4_TRY(get_i("expert_feed_forward_length", "moe_intermediate_size"));
  if (f.find(key("expert_shared_count"))) DSV4_TRY(get_i("expert_shared_count", "n_shared_experts"));
  DSV4_TRY(get_i("hash_layer_count", "num_hash_layers"));
  DSV4_TRY(get_i("hyper_connection.count", "hc_mult"));
  DSV4_TRY(get_i("hyper_connection.sinkhorn_iterations", "hc_sinkhorn_iters"));
  DSV4_TRY(get_f("hyper_connection.epsilon", "hc_eps"));
  DSV4_TRY(get_f("attention.layer_norm_rms_epsilon", "rms_norm_eps"));
  DSV4_TRY(get_f("rope.freq_base", "rope_theta"));
  DSV4_TRY(get_f("attention.compress_rope_freq_base", "compress_rope_theta"));
  DSV4_TRY(get_f("expert_weights_scale", "routed_scaling_factor"));
  for (const char* k : {"hc_eps", "rms_norm_eps", "rope_theta", "compress_rope_theta", "routed_scaling_factor"})
    j[k] = f32_clean(j[k].get<double>());
  if (f.find(key("context_length"))) DSV4_TRY(get_i("context_length", "max_position_embeddings"));
  if (f.find(key("expert_weights_norm"))) {
    DSV4_ASSIGN_OR_RETURN(bool b, f.get_bool(key("expert_weights_norm")));
    j["norm_topk_prob"] = b;
  }
  DSV4_ASSIGN_OR_RETURN(int64_t gating, f.get_int(key("expert_gating_func")));
  if (gating == kGatingSqrtSoftplus) j["scoring_func"] = "sqrtsoftplus";
  else if (gating == kGatingSigmoid) j["scoring_func"] = "sigmoid";
  else if (gating == kGatingSoftmax) j["scoring_func"] = "softmax";
  else return error("{}: {} = {} is not a gating function DeepSeek-V4 uses", f.path(), key("expert_gating_func"), gating);
  if (const GgufValue* v = f.find(key("swiglu_clamp_exp"))) {
    if (v->type == GgufValueType::kArray && !v->floats.empty()) j["swiglu_limit"] = f32_clean(v->floats[0]);
    else if (v->is_float()) j["swiglu_limit"] = f32_clean(v->f);
    else return error("{}: {} must be a float or an array of floats", f.path(), key("swiglu_clamp_exp"));
    if (v->type == GgufValueType::kArray)
      for (double x : v->floats)
        if (x != v->floats[0])
          return error("{}: {} differs between layers, which DeepSeek-V4 configs cannot express", f.path(),
                       key("swiglu_clamp_exp"));
  }
  if (f.find(key("rope.scaling.type"))) {
    DSV4_ASSIGN_OR_RETURN(std::string t, f.get_string(key("rope.scaling.type")));
    if (t != "yarn" && t != "none") return error("{}: rope scaling '{}' is not supported (yarn)", f.path(), t);
    if (t == "yarn") {
      nlohmann::json rs;
      rs["type"] = "yarn";
      DSV4_ASSIGN_OR_RETURN(double factor, f.get_float(key("rope.scaling.factor")));
      DSV4_ASSIGN_OR_RETURN(int64_t orig, f.get_int(key("rope.scaling.original_context_length")));
      rs["factor"] = f32_clean(factor);
      rs["original_max_position_embeddings"] = orig;
      if (f.find(key("rope.scaling.yarn_beta_fast"))) {
        DSV4_ASSIGN_OR_RETURN(double b, f.get_float(key("rope.scaling.yarn_beta_fast")));
        rs["beta_fast"] = f32_clean(b);
      }
      if (f.find(key("rope.scaling.yarn_beta_slow"))) {
        DSV4_ASSIGN_OR_RETURN(double b, f.get_float(key("rope.scaling.yarn_beta_slow")));
        rs["beta_slow"] = f32_clean(b);
      }
      j["rope_scaling"] = rs;
    }
  }
  DSV4_ASSIGN_OR_RETURN(std::vector<int64_t> ratios, f.get_int_array(key("attention.compress_ratios")));
  const int64_t n_layers = j["num_hidden_layers"].get<int64_t>();
  if (static_cast<int64_t>(ratios.size()) < n_layers)
    return error("{}: {} has {} entries, fewer than block_count {}", f.path(), key("attention.compress_ratios"),
                 ratios.size(), n_layers);
  ratios.resize(static_cast<size_t>(n_layers));
  j["compress_ratios"] = ratios;
  j["num_nextn_predict_layers"] = 0;
  // The vocabulary size: the embedding's rows (the tokenizer's list can be longer or absent).
  if (const GgufTensor* e = f.find_tensor("token_embd.weight"); e && e->ne.size() == 2) j["vocab_size"] = e->ne[1];
  else if (f.find(key("vocab_size"))) DSV4_TRY(get_i("vocab_size", "vocab_size"));
  else return error("{}: no token_embd.weight tensor to take the vocabulary size from", f.path());
  if (f.find("tokenizer.ggml.bos_token_id")) {
    DSV4_ASSIGN_OR_RETURN(int64_t b, f.get_int("tokenizer.ggml.bos_token_id"));
    j["bos_token_id"] = b;
  }
  if (f.find("tokenizer.ggml.eos_token_id")) {
    DSV4_ASSIGN_OR_RETURN(int64_t e, f.get_int("tokenizer.ggml.eos_token_id"));
    j["eos_token_id"] = e;
  }
  return parse_model_config(j.dump(), f.path());
}

std::optional<std::string> gguf_name_for_hf(std::string_view hf) {
  for (const NamePair& p : kRootNames)
    if (p.hf == hf) return std::string(p.gguf);
  int layer = 0;
  std::string_view rest;
  if (!split_layer(hf, "layers.", &layer, &rest)) return std::nullopt;
  for (const NamePair& p : kLayerNames)
    if (p.hf == rest) return fmt::format("blk.{}.{}", layer, p.gguf);
  return std::nullopt;
}

std::optional<std::string> hf_name_for_gguf(std::string_view g) {
  for (const NamePair& p : kRootNames)
    if (p.gguf == g) return std::string(p.hf);
  int layer = 0;
  std::string_view rest;
  if (!split_layer(g, "blk.", &layer, &rest)) return std::nullopt;
  for (const NamePair& p : kLayerNames)
    if (p.gguf == rest) return fmt::format("layers.{}.{}", layer, p.hf);
  return std::nullopt;
}

bool parse_gguf_expert_name(std::string_view g, int* layer, std::string* proj) {
  std::string_view rest;
  if (!split_layer(g, "blk.", layer, &rest)) return false;
  for (const NamePair& p : kExpertProj)
    if (p.gguf == rest) {
      *proj = std::string(p.hf);
      return true;
    }
  return false;
}

std::string gguf_expert_name(int layer, std::string_view proj) {
  for (const NamePair& p : kExpertProj)
    if (p.hf == proj) return fmt::format("blk.{}.{}", layer, p.gguf);
  return {};
}

}  // namespace dsv4

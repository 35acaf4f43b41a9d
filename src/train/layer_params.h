// Typed views of one block's parameters (values and gradients side by side), resolved by the
// checkpoint names of model/schema.h, so the module code reads like the spec (§2).
#pragma once
#include <string>
#include <vector>

#include "base/check.h"
#include "io/config.h"
#include "train/params.h"

namespace dsv4::train {

template <typename T>
struct P {  // one tensor: values and gradient (g is null for buffers)
  T* v = nullptr;
  T* g = nullptr;
  explicit operator bool() const { return v != nullptr; }
};

template <typename T>
P<T> param(Params<T>& ps, const std::string& name, bool required = true) {
  const ParamEntry* e = ps.find(name);
  if (!e) {
    DSV4_CHECK(!required);
    return {};
  }
  return {ps.values.data() + e->offset, e->group == ParamGroup::kBuffer ? nullptr : ps.grads.data() + e->offset};
}

template <typename T>
struct HcParams {
  P<T> fn, base, scale;
};

template <typename T>
struct CompressorParams {
  P<T> wkv, wgate, ape, norm;
  int head_dim = 0, ratio = 0;
  bool overlap = false;
};

template <typename T>
struct ExpertParams {
  P<T> w1, w2, w3;
};

template <typename T>
struct BlockParams {
  LayerSpec spec;
  P<T> attn_norm, ffn_norm, attn_sink, wq_a, wq_b, wkv, wo_a, wo_b, q_norm, kv_norm;
  HcParams<T> hc_attn, hc_ffn;
  bool has_compressor = false, has_indexer = false;
  CompressorParams<T> comp, idx_comp;
  P<T> idx_wq_b, idx_weights_proj;
  P<T> gate, gate_bias;
  const int32_t* tid2eid = nullptr;
  std::vector<ExpertParams<T>> experts;
  ExpertParams<T> shared;
  // MTP only
  P<T> e_proj, h_proj, enorm, hnorm, mtp_norm;
  HcParams<T> mtp_head;
};

template <typename T>
BlockParams<T> block_params(Params<T>& ps, const LayerSpec& spec) {
  const ModelConfig& c = ps.config();
  const std::string p = spec.is_mtp ? "mtp." + std::to_string(spec.index - c.num_hidden_layers) + "."
                                    : "layers." + std::to_string(spec.index) + ".";
  BlockParams<T> b;
  b.spec = spec;
  auto get = [&](const std::string& n) { return param(ps, p + n); };
  b.attn_norm = get("attn_norm.weight");
  b.ffn_norm = get("ffn_norm.weight");
  b.attn_sink = get("attn.attn_sink");
  b.wq_a = get("attn.wq_a.weight");
  b.wq_b = get("attn.wq_b.weight");
  b.wkv = get("attn.wkv.weight");
  b.wo_a = get("attn.wo_a.weight");
  b.wo_b = get("attn.wo_b.weight");
  b.q_norm = get("attn.q_norm.weight");
  b.kv_norm = get("attn.kv_norm.weight");
  b.hc_attn = {get("hc_attn_fn"), get("hc_attn_base"), get("hc_attn_scale")};
  b.hc_ffn = {get("hc_ffn_fn"), get("hc_ffn_base"), get("hc_ffn_scale")};
  const int m = spec.compress_ratio;
  b.has_compressor = m > 0;
  b.has_indexer = spec.attn == AttnKind::kCsa;
  auto comp = [&](const std::string& q, int dc) {
    CompressorParams<T> cp{get(q + "wkv.weight"), get(q + "wgate.weight"), get(q + "ape"), get(q + "norm.weight")};
    cp.head_dim = dc;
    cp.ratio = m;
    cp.overlap = m == 4;
    return cp;
  };
  if (b.has_compressor) b.comp = comp("attn.compressor.", c.head_dim);
  if (b.has_indexer) {
    b.idx_comp = comp("attn.indexer.compressor.", c.index_head_dim);
    b.idx_wq_b = get("attn.indexer.wq_b.weight");
    b.idx_weights_proj = get("attn.indexer.weights_proj.weight");
  }
  b.gate = get("ffn.gate.weight");
  if (spec.route == RouteKind::kHash)
    b.tid2eid = ps.hash_table(p + "ffn.gate.tid2eid");
  else
    b.gate_bias = get("ffn.gate.bias");
  for (int e = 0; e < c.n_routed_experts; ++e) {
    const std::string q = "ffn.experts." + std::to_string(e) + ".";
    b.experts.push_back({get(q + "w1.weight"), get(q + "w2.weight"), get(q + "w3.weight")});
  }
  b.shared = {get("ffn.shared_experts.w1.weight"), get("ffn.shared_experts.w2.weight"),
              get("ffn.shared_experts.w3.weight")};
  if (spec.is_mtp) {
    b.e_proj = get("e_proj.weight");
    b.h_proj = get("h_proj.weight");
    b.enorm = get("enorm.weight");
    b.hnorm = get("hnorm.weight");
    b.mtp_norm = get("norm.weight");
    b.mtp_head = {get("hc_head_fn"), get("hc_head_base"), get("hc_head_scale")};
  }
  return b;
}

}  // namespace dsv4::train

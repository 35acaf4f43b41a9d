#include "model/weights.h"

#include <fmt/format.h>

#include "tensor/dtype.h"

namespace dsv4::model {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Resolves tensors by name, remembering the first problem (so call sites stay flat).
class Resolver {
 public:
  explicit Resolver(const Checkpoint& ck) : ck_(ck) {}
  const Status& status() const { return status_; }

  const TensorInfo* get(const std::string& name, DType dt, const std::vector<int64_t>& shape) {
    if (!status_.ok()) return nullptr;
    const TensorInfo* t = ck_.find(name);
    if (!t) return fail(fmt::format("{}: missing tensor '{}'", ck_.dir(), name));
    if (t->dtype != dt)
      return fail(fmt::format("{}: tensor '{}' has dtype {}, expected {}", *t->file, name, dtype_name(t->dtype),
                              dtype_name(dt)));
    if (t->shape != shape)
      return fail(fmt::format("{}: tensor '{}' has shape {}, expected {}", *t->file, name, shape_str(t->shape),
                              shape_str(shape)));
    return t;
  }
  template <typename T>
  const T* data(const std::string& name, DType dt, const std::vector<int64_t>& shape) {
    const TensorInfo* t = get(name, dt, shape);
    return t ? reinterpret_cast<const T*>(t->data) : nullptr;
  }
  const bf16* bf(const std::string& name, const std::vector<int64_t>& shape) {
    return data<bf16>(name, DType::kBF16, shape);
  }
  const float* f32(const std::string& name, const std::vector<int64_t>& shape) {
    return data<float>(name, DType::kF32, shape);
  }

  // `prefix`.weight in FP8 (+ .scale), FP4 (I8 packed + .scale) or BF16; logical [out, in].
  LinearWeight linear(const std::string& prefix, int64_t out, int64_t in) {
    LinearWeight w;
    w.rows = out;
    w.cols = in;
    if (!status_.ok()) return w;
    const TensorInfo* t = ck_.find(prefix + ".weight");
    if (!t) {
      fail(fmt::format("{}: missing tensor '{}.weight'", ck_.dir(), prefix));
      return w;
    }
    const int64_t b = kernels::kWeightBlock;
    if (t->ggml == GgmlType::kMXFP4) {  // a GGUF file's FP4 codes + UE8M0 scales: the reference's FP4 path
      const auto rb = ggml_row_bytes(GgmlType::kMXFP4, in);
      if (t->shape != std::vector<int64_t>{out, in} || !rb || t->nbytes() != *rb * static_cast<uint64_t>(out)) {
        fail(fmt::format("{}: tensor '{}.weight' (mxfp4) has shape {}, expected [{}, {}]", *t->file, prefix,
                         shape_str(t->shape), out, in));
      } else {
        w.kind = LinearWeight::Kind::kFp4;
        w.fp4 = {t->data, nullptr, out, in, true};
      }
    } else if (t->ggml) {
      const auto rb = ggml_row_bytes(*t->ggml, in);
      if (!kernels::linear_ggml_supported(*t->ggml)) {
        fail(fmt::format("{}: tensor '{}.weight' has ggml type {}, which no linear kernel here computes with",
                         *t->file, prefix, ggml_type_name(*t->ggml)));
      } else if (t->shape != std::vector<int64_t>{out, in} || !rb || t->nbytes() != *rb * static_cast<uint64_t>(out)) {
        fail(fmt::format("{}: tensor '{}.weight' ({}) has shape {}, expected [{}, {}]", *t->file, prefix,
                         ggml_type_name(*t->ggml), shape_str(t->shape), out, in));
      } else {
        w.kind = LinearWeight::Kind::kGgml;
        w.ggml = {*t->ggml, t->data, out, in, *rb};
      }
    } else if (t->dtype == DType::kF8E4M3) {
      w.kind = LinearWeight::Kind::kFp8;
      w.fp8 = {data<uint8_t>(prefix + ".weight", DType::kF8E4M3, {out, in}),
               data<uint8_t>(prefix + ".scale", DType::kF8E8M0, {(out + b - 1) / b, (in + b - 1) / b}), out, in};
    } else if (t->dtype == DType::kI8) {
      if (in % kernels::kFp4Block) {
        fail(fmt::format("{}: FP4 tensor '{}.weight' needs in_features {} divisible by 32", *t->file, prefix, in));
        return w;
      }
      w.kind = LinearWeight::Kind::kFp4;
      w.fp4 = {data<uint8_t>(prefix + ".weight", DType::kI8, {out, in / 2}),
               data<uint8_t>(prefix + ".scale", DType::kF8E8M0, {out, in / kernels::kFp4Block}), out, in};
    } else if (t->dtype == DType::kBF16) {
      w.kind = LinearWeight::Kind::kBf16;
      w.bf = bf(prefix + ".weight", {out, in});
    } else {
      fail(fmt::format("{}: tensor '{}.weight' has unsupported dtype {} for a linear layer", *t->file, prefix,
                       dtype_name(t->dtype)));
    }
    return w;
  }

  const TensorInfo* fail(std::string msg) {
    if (status_.ok()) status_ = Status::error(std::move(msg));
    return nullptr;
  }
  const std::string& dir() const { return ck_.dir(); }

 private:
  const Checkpoint& ck_;
  Status status_;
};

CompressorWeights load_compressor(Resolver& r, const std::string& p, int64_t d, int dc, int ratio) {
  CompressorWeights c;
  c.head_dim = dc;
  c.ratio = ratio;
  c.overlap = ratio == 4;
  const int64_t width = (c.overlap ? 2 : 1) * static_cast<int64_t>(dc);
  c.wkv = r.bf(p + ".wkv.weight", {width, d});
  c.wgate = r.bf(p + ".wgate.weight", {width, d});
  c.ape = r.f32(p + ".ape", {ratio, width});
  c.norm = r.bf(p + ".norm.weight", {dc});
  return c;
}

HcSite load_hc(Resolver& r, const std::string& p, int64_t mix, int64_t hc_dim, int64_t n_scale) {
  return {r.f32(p + "_fn", {mix, hc_dim}), r.f32(p + "_base", {mix}), r.f32(p + "_scale", {n_scale})};
}

void load_experts(Resolver& r, const ModelConfig& c, const Placement& pl, const std::string& p, LayerWeights& L) {
  const int64_t d = c.hidden_size, E = c.n_routed_experts, F = c.moe_intermediate_size;
  L.experts.resize(E);
  for (int64_t e = 0; e < E && r.status().ok(); ++e) {
    if (!pl.owns_expert(e, E)) continue;
    const std::string ep = fmt::format("{}ffn.experts.{}.", p, e);
    L.experts[e] = {r.linear(ep + "w1", F, d), r.linear(ep + "w2", d, F), r.linear(ep + "w3", F, d)};
  }
}

LayerWeights load_layer(Resolver& r, const ModelConfig& c, const LayerSpec& spec, const Placement& pl) {
  LayerWeights L;
  L.spec = spec;
  const std::string p = spec.is_mtp ? fmt::format("mtp.{}.", spec.index - c.num_hidden_layers)
                                    : fmt::format("layers.{}.", spec.index);
  if (!pl.owns_layer(spec.index, c.num_hidden_layers)) return L;
  L.loaded = true;
  if (!pl.owns_attention) {  // an expert-only member
    load_experts(r, c, pl, p, L);
    return L;
  }
  const int64_t d = c.hidden_size, H = c.num_attention_heads, D = c.head_dim;
  L.attn_norm = r.bf(p + "attn_norm.weight", {d});
  L.ffn_norm = r.bf(p + "ffn_norm.weight", {d});
  L.hc_attn = load_hc(r, p + "hc_attn", c.hc_mix(), c.hc_dim(), 3);
  L.hc_ffn = load_hc(r, p + "hc_ffn", c.hc_mix(), c.hc_dim(), 3);
  L.attn_sink = r.f32(p + "attn.attn_sink", {H});
  L.wq_a = r.linear(p + "attn.wq_a", c.q_lora_rank, d);
  L.q_norm = r.bf(p + "attn.q_norm.weight", {c.q_lora_rank});
  L.wq_b = r.linear(p + "attn.wq_b", H * D, c.q_lora_rank);
  L.wkv = r.linear(p + "attn.wkv", D, d);
  L.kv_norm = r.bf(p + "attn.kv_norm.weight", {D});
  const int64_t group_in = H * D / c.o_groups;
  L.wo_a = r.linear(p + "attn.wo_a", static_cast<int64_t>(c.o_groups) * c.o_lora_rank, group_in);
  L.wo_b = r.linear(p + "attn.wo_b", d, static_cast<int64_t>(c.o_groups) * c.o_lora_rank);
  if (r.status().ok() && L.wo_a.kind == LinearWeight::Kind::kFp4) {
    r.fail(fmt::format("{}: tensor '{}attn.wo_a.weight' must be FP8, bf16 or a ggml type (the grouped output LoRA A)",
                       r.dir(), p));
  }
  if (spec.compress_ratio > 0) {
    L.has_compressor = true;
    L.compressor = load_compressor(r, p + "attn.compressor", d, static_cast<int>(D), spec.compress_ratio);
    if (spec.attn == AttnKind::kCsa) {
      L.has_indexer = true;
      L.indexer.wq_b = r.linear(p + "attn.indexer.wq_b", static_cast<int64_t>(c.index_n_heads) * c.index_head_dim,
                                c.q_lora_rank);
      L.indexer.weights_proj = r.bf(p + "attn.indexer.weights_proj.weight", {c.index_n_heads, d});
      L.indexer.compressor = load_compressor(r, p + "attn.indexer.compressor", d, c.index_head_dim, spec.compress_ratio);
    }
  }
  const int64_t E = c.n_routed_experts, F = c.moe_intermediate_size;
  L.gate = r.bf(p + "ffn.gate.weight", {E, d});
  if (spec.route == RouteKind::kHash) {
    L.tid2eid = r.data<int64_t>(p + "ffn.gate.tid2eid", DType::kI64, {c.vocab_size, c.num_experts_per_tok});
  } else {
    L.gate_bias = r.f32(p + "ffn.gate.bias", {E});
  }
  load_experts(r, c, pl, p, L);
  const std::string sp = p + "ffn.shared_experts.";
  L.shared = {r.linear(sp + "w1", F, d), r.linear(sp + "w2", d, F), r.linear(sp + "w3", F, d)};
  if (spec.is_mtp) {
    L.e_proj = r.linear(p + "e_proj", d, d);
    L.h_proj = r.linear(p + "h_proj", d, d);
    L.enorm = r.bf(p + "enorm.weight", {d});
    L.hnorm = r.bf(p + "hnorm.weight", {d});
    L.mtp_norm = r.bf(p + "norm.weight", {d});
    L.mtp_head = load_hc(r, p + "hc_head", c.hc_mult, c.hc_dim(), 1);
  }
  return L;
}


// The number after `prefix` at the start of `s` and the text after the dot that follows it.
int64_t number_after(std::string_view s, std::string_view prefix, std::string_view* rest) {
  if (s.substr(0, prefix.size()) != prefix) return -1;
  s.remove_prefix(prefix.size());
  int64_t v = 0;
  size_t i = 0;
  while (i < s.size() && i < 12 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
  if (i == 0 || i >= s.size() || s[i] != '.') return -1;
  *rest = s.substr(i + 1);
  return v;
}

}  // namespace

bool placement_wants(const ModelConfig& c, const Placement& p, std::string_view name) {
  std::string_view rest, tail;
  int64_t layer = number_after(name, "layers.", &rest);
  if (layer < 0) {
    const int64_t m = number_after(name, "mtp.", &rest);
    if (m < 0) return p.owns_ends && p.owns_attention;  // embed, head, norm, hc_head
    layer = c.num_hidden_layers + m;
  }
  if (layer > INT32_MAX || !p.owns_layer(static_cast<int>(layer), c.num_hidden_layers)) return false;
  const int64_t e = number_after(rest, "ffn.experts.", &tail);
  if (e >= 0) return e < c.n_routed_experts && p.owns_expert(e, c.n_routed_experts);
  return p.owns_attention;
}

Result<std::unique_ptr<ModelWeights>> load_weights(const std::string& dir) { return load_weights(dir, Placement{}); }

Result<std::unique_ptr<ModelWeights>> load_weights(const std::string& dir, const Placement& pl) {
  auto w = std::make_unique<ModelWeights>();
  DSV4_ASSIGN_OR_RETURN(w->config, load_model_config(dir));
  const ModelConfig& c = w->config;
  w->placement = pl;
  if (pl.expert_members < 1 || pl.expert_member < 0 || pl.expert_member >= pl.expert_members)
    return error("{}: expert member {} of {} is not a valid placement", dir, pl.expert_member, pl.expert_members);
  if (pl.expert_members > c.n_routed_experts)
    return error("{}: {} expert-parallel ranks but only {} routed experts per layer", dir, pl.expert_members,
                 c.n_routed_experts);
  if (pl.all_layers() && pl.owns_ends && pl.owns_attention && pl.expert_members == 1) {
    DSV4_ASSIGN_OR_RETURN(w->checkpoint, Checkpoint::open(dir));
  } else {
    DSV4_ASSIGN_OR_RETURN(w->checkpoint,
                          Checkpoint::open(dir, [&](std::string_view n) { return placement_wants(c, pl, n); }));
  }
  Resolver r(*w->checkpoint);
  if (pl.owns_ends && pl.owns_attention) {
    w->embed = r.bf("embed.weight", {c.vocab_size, c.hidden_size});
    w->head = r.bf("head.weight", {c.vocab_size, c.hidden_size});
    w->norm = r.bf("norm.weight", {c.hidden_size});
    w->hc_head = load_hc(r, "hc_head", c.hc_mult, c.hc_dim(), 1);
  }
  for (const LayerSpec& s : c.layers()) {
    if (!r.status().ok()) break;
    (s.is_mtp ? w->mtp : w->layers).push_back(load_layer(r, c, s, pl));
  }
  if (!r.status().ok()) return r.status();
  return w;
}

}  // namespace dsv4::model

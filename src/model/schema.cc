#include "model/schema.h"

#include <map>
#include <set>

#include <fmt/format.h>

namespace dsv4 {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Collects the specs of one block (a main layer or an MTP block) or of the top level.
class SchemaBuilder {
 public:
  SchemaBuilder(const ModelConfig& cfg, std::vector<TensorSpec>* out) : cfg_(cfg), out_(out) {}

  void set_scope(std::string prefix, int layer, bool is_mtp) {
    prefix_ = std::move(prefix);
    layer_ = layer;
    is_mtp_ = is_mtp;
  }

  void add(const std::string& name, DType dt, std::vector<int64_t> shape, TensorRole role = TensorRole::kPlain,
           int expert = -1) {
    out_->push_back(TensorSpec{prefix_ + name, dt, std::move(shape), role, layer_, is_mtp_, expert});
  }
  void bf16(const std::string& name, std::vector<int64_t> shape) { add(name, DType::kBF16, std::move(shape)); }
  void f32(const std::string& name, std::vector<int64_t> shape) { add(name, DType::kF32, std::move(shape)); }

  // FP8 e4m3 linear `name`.weight [out, in] + `name`.scale, one UE8M0 per weight block (§4.3).
  void fp8_linear(const std::string& name, int64_t out, int64_t in, int expert = -1) {
    add(name + ".weight", DType::kF8E4M3, {out, in}, TensorRole::kFp8Weight, expert);
    add(name + ".scale", DType::kF8E8M0, {ceil_div(out, cfg_.weight_block_rows), ceil_div(in, cfg_.weight_block_cols)},
        TensorRole::kBlockScale, expert);
  }
  // Packed FP4 (MXFP4) linear: I8 [out, in/2] + F8_E8M0 [out, in/32].
  void fp4_linear(const std::string& name, int64_t out, int64_t in, int expert) {
    add(name + ".weight", DType::kI8, {out, in / 2}, TensorRole::kFp4Weight, expert);
    add(name + ".scale", DType::kF8E8M0, {out, in / cfg_.fp4_block_size}, TensorRole::kFp4Scale, expert);
  }

  void hc_site(const std::string& site) {
    f32("hc_" + site + "_fn", {cfg_.hc_mix(), cfg_.hc_dim()});
    f32("hc_" + site + "_base", {cfg_.hc_mix()});
    f32("hc_" + site + "_scale", {3});
  }
  void hc_head() {
    f32("hc_head_fn", {cfg_.hc_mult, cfg_.hc_dim()});
    f32("hc_head_base", {cfg_.hc_mult});
    f32("hc_head_scale", {1});
  }

  // KV compressor of §2.7: `c*Dc` projection rows (c = 2 for the overlapping ratio-4 mode).
  void compressor(const std::string& name, int ratio, int64_t dc) {
    const int64_t width = (ratio == 4 ? 2 : 1) * dc;
    const int64_t d = cfg_.hidden_size;
    bf16(name + ".wkv.weight", {width, d});
    bf16(name + ".wgate.weight", {width, d});
    f32(name + ".ape", {ratio, width});
    bf16(name + ".norm.weight", {dc});
  }

  void block(const LayerSpec& ls) {
    const ModelConfig& c = cfg_;
    const int64_t d = c.hidden_size, H = c.num_attention_heads, D = c.head_dim, F = c.moe_intermediate_size;
    bf16("attn_norm.weight", {d});
    bf16("ffn_norm.weight", {d});
    hc_site("attn");
    hc_site("ffn");
    // Attention (§2.4, §2.10).
    f32("attn.attn_sink", {H});
    fp8_linear("attn.wq_a", c.q_lora_rank, d);
    bf16("attn.q_norm.weight", {c.q_lora_rank});
    fp8_linear("attn.wq_b", H * D, c.q_lora_rank);
    fp8_linear("attn.wkv", D, d);
    bf16("attn.kv_norm.weight", {D});
    fp8_linear("attn.wo_a", int64_t{c.o_groups} * c.o_lora_rank, H / c.o_groups * D);
    fp8_linear("attn.wo_b", d, int64_t{c.o_groups} * c.o_lora_rank);
    if (ls.compress_ratio > 0) compressor("attn.compressor", ls.compress_ratio, D);
    if (ls.attn == AttnKind::kCsa) {
      fp8_linear("attn.indexer.wq_b", int64_t{c.index_n_heads} * c.index_head_dim, c.q_lora_rank);
      bf16("attn.indexer.weights_proj.weight", {c.index_n_heads, d});
      compressor("attn.indexer.compressor", ls.compress_ratio, c.index_head_dim);
    }
    // MoE (§2.12).
    bf16("ffn.gate.weight", {c.n_routed_experts, d});
    if (ls.route == RouteKind::kHash)
      add("ffn.gate.tid2eid", DType::kI64, {c.vocab_size, c.num_experts_per_tok}, TensorRole::kHashTable);
    else
      f32("ffn.gate.bias", {c.n_routed_experts});
    fp8_linear("ffn.shared_experts.w1", F * c.n_shared_experts, d);
    fp8_linear("ffn.shared_experts.w2", d, F * c.n_shared_experts);
    fp8_linear("ffn.shared_experts.w3", F * c.n_shared_experts, d);
    for (int e = 0; e < c.n_routed_experts; ++e) {
      const std::string p = fmt::format("ffn.experts.{}.", e);
      if (c.expert_dtype == "fp4") {
        fp4_linear(p + "w1", F, d, e);
        fp4_linear(p + "w2", d, F, e);
        fp4_linear(p + "w3", F, d, e);
      } else {
        fp8_linear(p + "w1", F, d, e);
        fp8_linear(p + "w2", d, F, e);
        fp8_linear(p + "w3", F, d, e);
      }
    }
    if (ls.is_mtp) {  // §2.14: MTP input projections, norms and its own HC head.
      fp8_linear("e_proj", d, d);
      fp8_linear("h_proj", d, d);
      bf16("enorm.weight", {d});
      bf16("hnorm.weight", {d});
      bf16("norm.weight", {d});
      hc_head();
    }
  }

 private:
  const ModelConfig& cfg_;
  std::vector<TensorSpec>* out_;
  std::string prefix_;
  int layer_ = -1;
  bool is_mtp_ = false;
};

std::string spec_string(DType dt, const std::vector<int64_t>& shape) {
  return fmt::format("{} {}", dtype_name(dt), shape_to_string(shape));
}

}  // namespace

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

int64_t TensorSpec::nbytes() const { return numel() * static_cast<int64_t>(dtype_size(dtype)); }

int64_t TensorSpec::params() const {
  switch (role) {
    case TensorRole::kPlain:
    case TensorRole::kFp8Weight: return numel();
    case TensorRole::kFp4Weight: return 2 * numel();
    case TensorRole::kBlockScale:
    case TensorRole::kFp4Scale:
    case TensorRole::kHashTable: return 0;
  }
  return 0;
}

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& cfg) {
  std::vector<TensorSpec> out;
  SchemaBuilder b(cfg, &out);
  const int64_t d = cfg.hidden_size;
  b.set_scope("", -1, false);
  b.bf16("embed.weight", {cfg.vocab_size, d});
  for (const LayerSpec& ls : cfg.layers()) {
    const std::string prefix = ls.is_mtp ? fmt::format("mtp.{}.", ls.index - cfg.num_hidden_layers)
                                         : fmt::format("layers.{}.", ls.index);
    b.set_scope(prefix, ls.index, ls.is_mtp);
    b.block(ls);
  }
  b.set_scope("", -1, false);
  b.bf16("head.weight", {cfg.vocab_size, d});
  b.bf16("norm.weight", {d});
  b.hc_head();
  return out;
}

std::vector<std::string> checkpoint_problems(const ModelConfig& cfg, const Checkpoint& ck) {
  std::vector<std::string> problems;
  std::map<std::string, const TensorSpec*, std::less<>> expected;
  const std::vector<TensorSpec> specs = expected_tensors(cfg);
  for (const TensorSpec& s : specs) expected.emplace(s.name, &s);
  // Linears may also come in another form the loader computes with (a GGUF file's ggml block
  // types, or plain bf16): logical shape [out, in] and no scale tensor.
  std::set<std::string, std::less<>> unscaled;
  auto alternative_linear = [](const TensorSpec& s, const TensorInfo& t) {
    if (s.role != TensorRole::kFp8Weight && s.role != TensorRole::kFp4Weight) return false;
    const std::vector<int64_t> logical = {s.shape[0], s.role == TensorRole::kFp4Weight ? 2 * s.shape[1] : s.shape[1]};
    return t.shape == logical && (t.ggml.has_value() || t.dtype == DType::kBF16);
  };
  for (const TensorSpec& s : specs) {
    const TensorInfo* t = ck.find(s.name);
    if (t && alternative_linear(s, *t)) {
      unscaled.insert(s.name.substr(0, s.name.size() - std::string_view(".weight").size()) + ".scale");
      continue;
    }
    if (!t && (s.role == TensorRole::kBlockScale || s.role == TensorRole::kFp4Scale) && unscaled.count(s.name)) continue;
    if (!t) {
      problems.push_back(fmt::format("missing tensor '{}' (expected {})", s.name, spec_string(s.dtype, s.shape)));
    } else if (t->dtype != s.dtype || t->shape != s.shape) {
      problems.push_back(fmt::format("tensor '{}': expected {}, found {}", s.name, spec_string(s.dtype, s.shape),
                                     spec_string(t->dtype, t->shape)));
    }
  }
  for (const TensorInfo* t : ck.tensors())
    if (!expected.count(t->name))
      problems.push_back(fmt::format("unexpected tensor '{}' ({})", t->name, spec_string(t->dtype, t->shape)));
  return problems;
}

Status check_checkpoint(const ModelConfig& cfg, const Checkpoint& ck) {
  const std::vector<std::string> p = checkpoint_problems(cfg, ck);
  if (p.empty()) return ok_status();
  if (p.size() == 1) return Status::error(fmt::format("{}: {}", ck.dir(), p[0]));
  return Status::error(fmt::format("{}: {} (and {} more problems)", ck.dir(), p[0], p.size() - 1));
}

std::vector<int> checkpoint_shards(const ModelConfig& cfg, const std::vector<TensorSpec>& specs) {
  constexpr int64_t kShardBytes = int64_t{4} << 30;
  int64_t total = 0;
  for (const TensorSpec& s : specs) total += s.nbytes();
  std::vector<int> shard_of(specs.size());
  if (total <= kShardBytes) {
    for (size_t i = 0; i < specs.size(); ++i) {
      const TensorSpec& s = specs[i];
      const bool first = s.name == "embed.weight" || (s.layer >= 0 && !s.is_mtp && s.layer < cfg.num_hidden_layers / 2);
      shard_of[i] = first ? 0 : 1;
    }
    return shard_of;
  }
  int shard = 0;
  int64_t used = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (used > 0 && used + specs[i].nbytes() > kShardBytes) {
      ++shard;
      used = 0;
    }
    shard_of[i] = shard;
    used += specs[i].nbytes();
  }
  return shard_of;
}

}  // namespace dsv4

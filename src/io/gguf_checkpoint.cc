#include "io/gguf_checkpoint.h"

#include <cstring>
#include <deque>
#include <set>

#include "io/gguf.h"
#include "io/gguf_deepseek4.h"
#include "tensor/bf16.h"
#include "tensor/ggml_quants.h"

namespace dsv4 {
namespace {

struct Store {
  std::unique_ptr<GgufFile> file;
  std::deque<std::vector<uint8_t>> buffers;  // deque: stable addresses as it grows
  std::vector<uint8_t>& add(size_t n) { return buffers.emplace_back(n); }
};

enum class Want { kBf16, kF32, kI64, kLinear };

Want wanted_kind(std::string_view hf) {
  auto ends = [&](std::string_view s) { return hf.ends_with(s); };
  if (ends("_fn") || ends("_base") || ends("_scale") || ends(".attn_sink") || ends(".ape") || ends("ffn.gate.bias"))
    return Want::kF32;
  if (ends(".tid2eid")) return Want::kI64;
  for (std::string_view s : {"attn.wq_a.weight", "attn.wq_b.weight", "attn.wkv.weight", "attn.wo_a.weight",
                             "attn.wo_b.weight", "attn.indexer.wq_b.weight", "ffn.shared_experts.w1.weight",
                             "ffn.shared_experts.w2.weight", "ffn.shared_experts.w3.weight"})
    if (ends(s)) return Want::kLinear;
  return Want::kBf16;
}

TensorInfo make_info(std::string name, DType dt, std::vector<int64_t> shape, const uint8_t* data, size_t nbytes) {
  TensorInfo t;
  t.name = std::move(name);
  t.dtype = dt;
  t.shape = std::move(shape);
  t.begin = 0;
  t.end = nbytes;
  t.data = data;
  return t;
}

class Translator {
 public:
  Translator(Store& s, const ModelConfig& c, std::vector<TensorInfo>& out, std::vector<std::string>& notes)
      : s_(s), c_(c), out_(out), notes_(notes) {}

  Result<std::vector<float>> values(const GgufTensor& t) {
    if (!ggml_type_dequantizable(t.type))
      return error("{}: tensor '{}' has type {}, which this engine cannot read yet", s_.file->path(), t.name,
                   ggml_type_name(t.type));
    std::vector<float> v(static_cast<size_t>(t.numel()));
    const int64_t n0 = t.ne[0], rows = t.numel() / std::max<int64_t>(n0, 1);
    const uint64_t rb = *ggml_row_bytes(t.type, n0);
    for (int64_t r = 0; r < rows; ++r) dequantize_ggml_row(t.type, t.data + r * rb, v.data() + r * n0, n0);
    return v;
  }

  Status plain(const GgufTensor& t, const std::string& hf, Want w, std::vector<int64_t> shape) {
    if (w == Want::kF32) {
      if (t.type == GgmlType::kF32) return add(hf, DType::kF32, shape, t.data, t.nbytes);
      DSV4_ASSIGN_OR_RETURN(auto v, values(t));
      auto& b = s_.add(v.size() * 4);
      std::memcpy(b.data(), v.data(), b.size());
      return add(hf, DType::kF32, shape, b.data(), b.size());
    }
    if (w == Want::kI64) {
      auto& b = s_.add(static_cast<size_t>(t.numel()) * 8);
      auto* o = reinterpret_cast<int64_t*>(b.data());
      if (t.type == GgmlType::kI32) {
        for (int64_t i = 0; i < t.numel(); ++i) {
          int32_t x;
          std::memcpy(&x, t.data + 4 * i, 4);
          o[i] = x;
        }
      } else if (t.type == GgmlType::kI64) {
        std::memcpy(o, t.data, b.size());
      } else {
        return error("{}: tensor '{}' has type {} (the hash routing table must be i32 or i64)", s_.file->path(),
                     t.name, ggml_type_name(t.type));
      }
      return add(hf, DType::kI64, shape, b.data(), b.size());
    }
    if (t.type == GgmlType::kBF16) return add(hf, DType::kBF16, shape, t.data, t.nbytes);
    DSV4_ASSIGN_OR_RETURN(auto v, values(t));
    auto& b = s_.add(v.size() * 2);
    auto* o = reinterpret_cast<bf16*>(b.data());
    bool exact = true;
    for (size_t i = 0; i < v.size(); ++i) {
      o[i] = f32_to_bf16(v[i]);
      exact &= bf16_to_f32(o[i]) == v[i];
    }
    if (!exact) note(fmt::format("{} ({}) rounded to bf16 at load", t.name, ggml_type_name(t.type)));
    return add(hf, DType::kBF16, shape, b.data(), b.size());
  }

  Status linear(const GgufTensor& t, const std::string& hf, std::vector<int64_t> shape) {
    const int64_t rows = shape[0], cols = shape[1];
    const bool plain_float = t.type == GgmlType::kBF16 || t.type == GgmlType::kF32 || t.type == GgmlType::kF16;
    if (!plain_float) {
      // Block-quantized (Q8_0, Q4_K, ...): computed with in place by the ggml linear kernels.
      if (!ggml_type_dequantizable(t.type))
        return error("{}: tensor '{}' has type {}, which this engine cannot compute with", s_.file->path(), t.name,
                     ggml_type_name(t.type));
      return add_ggml(hf, t.type, shape, t.data, t.nbytes);
    }
    DSV4_ASSIGN_OR_RETURN(auto v, values(t));
    const int64_t br = c_.weight_block_rows, bc = c_.weight_block_cols;
    const int64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc;
    if (t.type != GgmlType::kQ8_0) {
      auto& codes = s_.add(static_cast<size_t>(rows * cols));
      auto& scales = s_.add(static_cast<size_t>(nbr * nbc));
      if (fp8_blocks_from_values(v.data(), rows, cols, br, bc, codes.data(), scales.data())) {
        DSV4_TRY(add(hf, DType::kF8E4M3, shape, codes.data(), codes.size()));
        const std::string sname = hf.substr(0, hf.size() - std::string_view(".weight").size()) + ".scale";
        return add(sname, DType::kF8E8M0, {nbr, nbc}, scales.data(), scales.size());
      }
      s_.buffers.pop_back();
      s_.buffers.pop_back();
    }
    note(fmt::format("{} ({}) is not FP8-exact: runs as a {} linear", t.name, ggml_type_name(t.type),
                     ggml_type_name(t.type)));
    if (t.type == GgmlType::kBF16) return add(hf, DType::kBF16, shape, t.data, t.nbytes);
    return add_ggml(hf, t.type, shape, t.data, t.nbytes);
  }

  Status experts(const GgufTensor& t, int layer, const std::string& proj,
                 const std::function<bool(std::string_view)>& wanted) {
    if (t.ne.size() != 3)
      return error("{}: tensor '{}' has {} dimensions (stacked experts have 3)", s_.file->path(), t.name, t.ne.size());
    if (!ggml_type_dequantizable(t.type))
      return error("{}: tensor '{}' has type {}, which this engine cannot compute with", s_.file->path(), t.name,
                   ggml_type_name(t.type));
    const int64_t in = t.ne[0], out = t.ne[1], E = t.ne[2];
    const uint64_t row_bytes = *ggml_row_bytes(t.type, in);
    for (int64_t e = 0; e < E; ++e) {
      const std::string base = fmt::format("layers.{}.ffn.experts.{}.{}", layer, e, proj);
      if (wanted && !wanted(base + ".weight")) continue;
      // Each expert's rows in place. MXFP4 holds the checkpoint's own FP4 codes and scales: the
      // FP4 kernels read that layout directly (kernels::Fp4Matrix::mxfp4) and run the
      // reference's FP4 path bit for bit; other types go to the ggml linear kernels.
      DSV4_TRY(add_ggml(base + ".weight", t.type, {out, in}, t.data + e * out * row_bytes, out * row_bytes));
    }
    return ok_status();
  }

  void note(std::string s) {
    if (notes_.size() < 8) notes_.push_back(std::move(s));
    else ++more_notes_;
  }
  void finish() {
    if (more_notes_) notes_.push_back(fmt::format("... and {} more such notes", more_notes_));
  }

 private:
  Status add(const std::string& name, DType dt, std::vector<int64_t> shape, const uint8_t* data, size_t n) {
    if (!names_.insert(name).second) return error("{}: tensor '{}' appears twice", s_.file->path(), name);
    out_.push_back(make_info(name, dt, std::move(shape), data, n));
    return ok_status();
  }
  Status add_ggml(const std::string& name, GgmlType type, std::vector<int64_t> shape, const uint8_t* data, size_t n) {
    DSV4_TRY(add(name, DType::kU8, std::move(shape), data, n));
    out_.back().ggml = type;
    return ok_status();
  }
  Store& s_;
  const ModelConfig& c_;
  std::vector<TensorInfo>& out_;
  std::vector<std::string>& notes_;
  std::set<std::string> names_;
  int more_notes_ = 0;
};

}  // namespace

bool is_gguf_path(std::string_view path) { return path.size() > 5 && path.ends_with(".gguf"); }

Result<std::unique_ptr<Checkpoint>> open_gguf_checkpoint(const std::string& path,
                                                         const std::function<bool(std::string_view)>& wanted) {
  auto store = std::make_shared<Store>();
  DSV4_ASSIGN_OR_RETURN(store->file, GgufFile::open(path));
  DSV4_ASSIGN_OR_RETURN(ModelConfig cfg, deepseek4_config_from_gguf(*store->file));
  std::vector<TensorInfo> tensors;
  std::vector<std::string> notes;
  Translator tr(*store, cfg, tensors, notes);
  int skipped = 0;
  for (const GgufTensor& t : store->file->tensors()) {
    int layer = 0;
    std::string proj;
    if (parse_gguf_expert_name(t.name, &layer, &proj)) {
      if (layer >= cfg.num_hidden_layers) {
        ++skipped;
        continue;
      }
      DSV4_TRY(tr.experts(t, layer, proj, wanted));
      continue;
    }
    auto hf = hf_name_for_gguf(t.name);
    if (!hf || hf->ends_with(".bias_vl")) {
      // MTP blocks (blk.N.nextn.* and layers past block_count) and vision-only tensors.
      if (t.name.find(".nextn.") != std::string::npos || hf) {
        ++skipped;
        continue;
      }
      return error("{}: tensor '{}' ({}) is not a tensor of the deepseek4 architecture", path, t.name,
                   ggml_type_name(t.type));
    }
    if (wanted && !wanted(*hf)) continue;
    std::vector<int64_t> shape = t.shape();
    if (shape.size() == 3 && hf->ends_with("attn.wo_a.weight")) shape = {shape[0] * shape[1], shape[2]};
    const Want w = wanted_kind(*hf);
    if (w == Want::kLinear) {
      if (shape.size() != 2)
        return error("{}: tensor '{}' has {} dimensions (a linear weight has 2)", path, t.name, shape.size());
      DSV4_TRY(tr.linear(t, *hf, shape));
    } else {
      DSV4_TRY(tr.plain(t, *hf, w, shape));
    }
  }
  if (skipped) notes.push_back(fmt::format("{} tensors not used by this engine (MTP, vision) were skipped", skipped));
  tr.finish();
  auto ck = Checkpoint::from_tensors(path, std::move(tensors), store);
  ck->notes = std::move(notes);
  return ck;
}

}  // namespace dsv4

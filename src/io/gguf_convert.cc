#include "io/gguf_convert.h"

#include <charconv>
#include <cstring>
#include <map>

#include "io/gguf_deepseek4.h"
#include "tensor/bf16.h"
#include "tensor/fp8.h"
#include "tensor/ggml_quants.h"

namespace dsv4 {
namespace {

// "layers.{L}.ffn.experts.{E}.{proj}.weight" -> L, E, proj.
bool parse_expert(std::string_view n, int* layer, int* expert, std::string* proj) {
  auto num = [](std::string_view& s, int* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    if (ec != std::errc() || p == s.data()) return false;
    s.remove_prefix(p - s.data());
    return true;
  };
  if (!n.starts_with("layers.")) return false;
  n.remove_prefix(7);
  if (!num(n, layer) || !n.starts_with(".ffn.experts.")) return false;
  n.remove_prefix(13);
  if (!num(n, expert) || !n.starts_with(".") || !n.ends_with(".weight")) return false;
  *proj = std::string(n.substr(1, n.size() - 1 - 7));
  return *proj == "w1" || *proj == "w2" || *proj == "w3";
}

std::string scale_name(std::string_view weight) {
  return std::string(weight.substr(0, weight.size() - 7)) + ".scale";
}

// Row r (cols values) of an FP8 block-scaled matrix, exactly (e4m3 x 2^e is a normal float).
void fp8_row(const TensorInfo& w, const TensorInfo& s, int64_t r, int64_t cols, int64_t br, int64_t bc, float* out) {
  const int64_t nbc = (cols + bc - 1) / bc;
  for (int64_t c = 0; c < cols; ++c)
    out[c] = fp8_e4m3_to_f32(w.data[r * cols + c]) * ue8m0_to_f32(s.data[(r / br) * nbc + c / bc]);
}

// Encodes one row of fp32 values in `type` (kBF16, kQ8_0, kF32).
void encode_row(GgmlType type, const float* v, int64_t n, uint8_t* out) {
  if (type == GgmlType::kF32) {
    std::memcpy(out, v, static_cast<size_t>(n) * 4);
  } else if (type == GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const bf16 h = f32_to_bf16(v[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
  } else {
    quantize_row_q8_0(v, out, n);
  }
}

class Converter {
 public:
  Converter(const Checkpoint& ck, const ModelConfig& c, const GgufConvertOptions& o, GgufWriter& w)
      : ck_(ck), c_(c), o_(o), w_(w) {}

  Status run(GgufConvertSummary& sum) {
    // Experts by (layer, proj): the ids present, to stack them in order.
    std::map<std::pair<int, std::string>, std::map<int, const TensorInfo*>> experts;
    for (const TensorInfo* t : ck_.tensors()) {
      const std::string& n = t->name;
      if (n.starts_with("mtp.")) {
        ++sum.skipped_mtp;
        continue;
      }
      int layer = 0, e = 0;
      std::string proj;
      if (parse_expert(n, &layer, &e, &proj)) {
        experts[{layer, proj}][e] = t;
        continue;
      }
      if (n.ends_with(".scale") && ck_.find(n.substr(0, n.size() - 6) + ".weight")) continue;  // with its weight
      if (n.ends_with(".ffn.gate.bias")) {  // unused by hash layers; llama.cpp's converter drops it there
        int l = -1;
        std::string_view rest = std::string_view(n).substr(7);
        std::from_chars(rest.data(), rest.data() + rest.size(), l);
        if (l >= 0 && l < c_.num_hash_layers) continue;
      }
      DSV4_TRY(add_plain(*t));
    }
    for (auto& [key, by_id] : experts) DSV4_TRY(add_experts(key.first, key.second, by_id));
    sum.tensors = static_cast<int>(w_.tensor_count());
    sum.bytes = bytes_;
    return ok_status();
  }

 private:
  void add(std::string name, GgmlType type, std::vector<int64_t> ne, GgufWriter::Producer p) {
    int64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
    const size_t n = ggml_row_bytes(type, ne[0]).value_or(0) * static_cast<uint64_t>(rows);
    bytes_ += static_cast<int64_t>(n);
    // The producers write into a buffer of exactly the tensor's size.
    w_.add_tensor(std::move(name), type, std::move(ne), [n, p = std::move(p)](std::vector<uint8_t>& out) {
      out.assign(n, 0);
      return p(out);
    });
  }

  Status add_plain(const TensorInfo& t) {
    auto g = gguf_name_for_hf(t.name);
    if (!g) return error("{}: tensor '{}' has no place in a deepseek4 GGUF", *t.file, t.name);
    const std::vector<int64_t> ne(t.shape.rbegin(), t.shape.rend());
    const TensorInfo* tp = &t;
    if (t.dtype == DType::kF8E4M3) {
      const TensorInfo* s = ck_.find(scale_name(t.name));
      if (!s || s->dtype != DType::kF8E8M0 || t.shape.size() != 2)
        return error("{}: FP8 tensor '{}' needs a 2-D shape and an F8_E8M0 .scale", *t.file, t.name);
      const int64_t rows = t.shape[0], cols = t.shape[1], br = c_.weight_block_rows, bc = c_.weight_block_cols;
      if (s->numel() != ((rows + br - 1) / br) * ((cols + bc - 1) / bc))
        return error("{}: scale of '{}' has shape {}", *s->file, t.name, s->shape_string());
      if (o_.linear_type == GgmlType::kQ8_0 && cols % 32)
        return error("{}: '{}' has {} columns, not a multiple of 32 (q8_0)", *t.file, t.name, cols);
      const GgmlType type = o_.linear_type;
      add(*g, type, ne, [tp, s, rows, cols, br, bc, type](std::vector<uint8_t>& out) {
        const uint64_t rb = *ggml_row_bytes(type, cols);
        std::vector<float> row(cols);
        for (int64_t r = 0; r < rows; ++r) {
          fp8_row(*tp, *s, r, cols, br, bc, row.data());
          encode_row(type, row.data(), cols, out.data() + r * rb);
        }
        return ok_status();
      });
    } else if (t.dtype == DType::kI64) {  // tid2eid
      add(*g, GgmlType::kI32, ne, [tp](std::vector<uint8_t>& out) {
        for (int64_t i = 0; i < tp->numel(); ++i) {
          int64_t v;
          std::memcpy(&v, tp->data + 8 * i, 8);
          if (v < INT32_MIN || v > INT32_MAX) return error("{}: '{}' holds {} (not an i32)", *tp->file, tp->name, v);
          const int32_t x = static_cast<int32_t>(v);
          std::memcpy(out.data() + 4 * i, &x, 4);
        }
        return ok_status();
      });
    } else if (t.dtype == DType::kBF16 && t.shape.size() >= 2) {
      add(*g, GgmlType::kBF16, ne, [tp](std::vector<uint8_t>& out) {
        std::memcpy(out.data(), tp->data, out.size());
        return ok_status();
      });
    } else if (t.dtype == DType::kBF16 || t.dtype == DType::kF32) {  // 1-D bf16 and all f32: f32
      add(*g, GgmlType::kF32, ne, [tp](std::vector<uint8_t>& out) {
        for (int64_t i = 0; i < tp->numel(); ++i) {
          float v;
          if (tp->dtype == DType::kF32) {
            std::memcpy(&v, tp->data + 4 * i, 4);
          } else {
            bf16 h;
            std::memcpy(&h, tp->data + 2 * i, 2);
            v = bf16_to_f32(h);
          }
          std::memcpy(out.data() + 4 * i, &v, 4);
        }
        return ok_status();
      });
    } else {
      return error("{}: tensor '{}' has dtype {}, which the deepseek4 GGUF layout does not hold", *t.file, t.name,
                   dtype_name(t.dtype));
    }
    return ok_status();
  }

  Status add_experts(int layer, const std::string& proj, const std::map<int, const TensorInfo*>& by_id) {
    const int64_t E = c_.n_routed_experts;
    if (static_cast<int64_t>(by_id.size()) != E || by_id.begin()->first != 0 || by_id.rbegin()->first != E - 1)
      return error("{}: layer {} has {} routed experts for {}, expected {}", ck_.dir(), layer, by_id.size(), proj, E);
    const int64_t d = c_.hidden_size, F = c_.moe_intermediate_size;
    const int64_t out = proj == "w2" ? d : F, in = proj == "w2" ? F : d;
    std::vector<std::pair<const TensorInfo*, const TensorInfo*>> parts;
    const DType dt = by_id.begin()->second->dtype;
    for (auto& [e, t] : by_id) {
      const TensorInfo* s = ck_.find(scale_name(t->name));
      const std::vector<int64_t> want = dt == DType::kI8 ? std::vector<int64_t>{out, in / 2} : std::vector<int64_t>{out, in};
      if (t->dtype != dt || t->shape != want || !s || s->dtype != DType::kF8E8M0)
        return error("{}: routed expert '{}' ({} {}) does not match the layer's experts ({} with an F8_E8M0 .scale)",
                     *t->file, t->name, dtype_name(t->dtype), t->shape_string(), dtype_name(dt));
      parts.push_back({t, s});
    }
    const std::string name = gguf_expert_name(layer, proj);
    if (dt == DType::kI8) {  // FP4 e2m1 + UE8M0 per 32: MXFP4, lossless
      if (in % 32) return error("{}: FP4 experts of layer {} have {} inputs (not a multiple of 32)", ck_.dir(), layer, in);
      add(name, GgmlType::kMXFP4, {in, out, E}, [parts, out, in](std::vector<uint8_t>& o) {
        const uint64_t rb = *ggml_row_bytes(GgmlType::kMXFP4, in);
        for (size_t e = 0; e < parts.size(); ++e)
          for (int64_t r = 0; r < out; ++r)
            fp4_row_to_mxfp4(parts[e].first->data + r * in / 2, parts[e].second->data + r * in / 32, in,
                             o.data() + (e * out + r) * rb);
        return ok_status();
      });
    } else if (dt == DType::kF8E4M3) {  // FP8 experts: like the other FP8 linears
      const GgmlType type = o_.linear_type;
      const int64_t br = c_.weight_block_rows, bc = c_.weight_block_cols;
      add(name, type, {in, out, E}, [parts, out, in, type, br, bc](std::vector<uint8_t>& o) {
        const uint64_t rb = *ggml_row_bytes(type, in);
        std::vector<float> row(in);
        for (size_t e = 0; e < parts.size(); ++e)
          for (int64_t r = 0; r < out; ++r) {
            fp8_row(*parts[e].first, *parts[e].second, r, in, br, bc, row.data());
            encode_row(type, row.data(), in, o.data() + (e * out + r) * rb);
          }
        return ok_status();
      });
    } else {
      return error("{}: routed experts of layer {} have dtype {} (FP4 or FP8 expected)", ck_.dir(), layer, dtype_name(dt));
    }
    return ok_status();
  }

  const Checkpoint& ck_;
  const ModelConfig& c_;
  const GgufConvertOptions& o_;
  GgufWriter& w_;
  int64_t bytes_ = 0;
};

}  // namespace

Result<GgufConvertSummary> add_deepseek4_model(const Checkpoint& ck, const ModelConfig& c,
                                               const GgufConvertOptions& o, GgufWriter& w) {
  if (o.linear_type != GgmlType::kBF16 && o.linear_type != GgmlType::kQ8_0 && o.linear_type != GgmlType::kF32)
    return error("--type {}: the FP8 linears can be written as bf16 (exact), q8_0 or f32",
                 ggml_type_name(o.linear_type));
  write_deepseek4_metadata(c, o.name, w);
  // llama_ftype: what most of the weight bytes are (the experts are MXFP4 whatever the type).
  w.set_u32("general.file_type", c.expert_dtype == "fp4"                ? 38u  // MOSTLY_MXFP4_MOE
                                 : o.linear_type == GgmlType::kQ8_0 ? 7u   // MOSTLY_Q8_0
                                 : o.linear_type == GgmlType::kBF16 ? 32u  // MOSTLY_BF16
                                                                    : 0u);
  GgufConvertSummary sum;
  Converter conv(ck, c, o, w);
  DSV4_TRY(conv.run(sum));
  return sum;
}

}  // namespace dsv4

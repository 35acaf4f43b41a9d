#include "train/export.h"

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "model/schema.h"
#include "model/weight_quant.h"
#include "tensor/bf16.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"

namespace dsv4::train {
namespace fs = std::filesystem;
namespace {

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return error("{}: cannot write", path.string());
  return ok_status();
}

std::string stem_of(const std::string& name) { return name.substr(0, name.rfind('.') + 1); }

}  // namespace

Status export_checkpoint(const Params<float>& ps, const std::string& config_json, const std::string& dir) {
  const ModelConfig& c = ps.config();
  const std::vector<TensorSpec> specs = expected_tensors(c);
  // The config written beside the tensors must describe them.
  DSV4_ASSIGN_OR_RETURN(ModelConfig written, parse_model_config(config_json, dir + "/config.json"));
  const std::vector<TensorSpec> written_specs = expected_tensors(written);
  bool same = written_specs.size() == specs.size();
  for (size_t i = 0; same && i < specs.size(); ++i)
    same = written_specs[i].name == specs[i].name && written_specs[i].shape == specs[i].shape;
  if (!same) return error("export: the config text does not describe the trained model's tensors");
  std::vector<TensorBlob> blobs;
  blobs.reserve(specs.size());
  std::map<std::string, TensorBlob> scales;  // a weight's scale, made with it
  for (const TensorSpec& s : specs) {
    TensorBlob b{s.name, s.dtype, s.shape, {}};
    switch (s.role) {
      case TensorRole::kFp8Weight:
      case TensorRole::kFp4Weight: {
        const ParamEntry* e = ps.find(s.name);
        if (!e) return error("export: no parameter for {}", s.name);
        const std::vector<float> w(ps.values.begin() + e->offset, ps.values.begin() + e->offset + e->numel);
        TensorBlob scale;
        if (s.role == TensorRole::kFp8Weight)
          quantize_fp8(w, e->shape[0], e->shape[1], c.weight_block_rows, c.weight_block_cols, &b, &scale);
        else
          quantize_fp4(w, e->shape[0], e->shape[1], c.fp4_block_size, &b, &scale);
        scales[stem_of(s.name) + "scale"] = std::move(scale);
        break;
      }
      case TensorRole::kBlockScale:
      case TensorRole::kFp4Scale: {
        auto it = scales.find(s.name);
        if (it == scales.end()) return error("export: {} comes before its weight", s.name);
        b.bytes = std::move(it->second.bytes);
        break;
      }
      case TensorRole::kHashTable: {
        const int32_t* t = ps.hash_table(s.name);
        if (!t) return error("export: no hash table {}", s.name);
        b.bytes.resize(static_cast<size_t>(s.numel() * 8));
        for (int64_t i = 0; i < s.numel(); ++i) {
          const int64_t v = t[i];
          std::memcpy(&b.bytes[i * 8], &v, 8);
        }
        break;
      }
      case TensorRole::kPlain: {
        const ParamEntry* e = ps.find(s.name);
        if (!e) return error("export: no parameter for {}", s.name);
        const float* v = ps.values.data() + e->offset;
        if (s.dtype == DType::kBF16) {
          b.bytes.resize(static_cast<size_t>(e->numel * 2));
          for (int64_t i = 0; i < e->numel; ++i) {
            const uint16_t bits = f32_to_bf16(v[i]).bits;
            std::memcpy(&b.bytes[i * 2], &bits, 2);
          }
        } else if (s.dtype == DType::kF32) {
          b.bytes.resize(static_cast<size_t>(e->numel * 4));
          std::memcpy(b.bytes.data(), v, b.bytes.size());
        } else {
          return error("export: {} has an unexpected dtype", s.name);
        }
        break;
      }
    }
    blobs.push_back(std::move(b));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error("{}: cannot create: {}", dir, ec.message());
  DSV4_TRY(write_sharded_safetensors(dir, blobs, checkpoint_shards(c, specs)));
  DSV4_TRY(write_text(fs::path(dir) / "config.json", config_json));
  DSV4_TRY(write_text(fs::path(dir) / "generation_config.json",
                      "{\n  \"bos_token_id\": " + std::to_string(c.bos_token_id) + ",\n  \"eos_token_id\": " +
                          std::to_string(c.eos_token_id) + ",\n  \"do_sample\": true,\n  \"temperature\": 1.0,\n" +
                          "  \"top_p\": 1.0\n}\n"));
  return ok_status();
}

template <typename T>
Status Params<T>::load_checkpoint(const std::string& path) {
  DSV4_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ck, Checkpoint::open(path));
  DSV4_TRY(check_checkpoint(cfg_, *ck));
  for (const TensorSpec& s : expected_tensors(cfg_)) {
    const TensorInfo* t = ck->find(s.name);
    if (!t) return error("{}: missing tensor {}", path, s.name);
    if (s.role == TensorRole::kHashTable) {
      std::vector<int32_t>& h = hash_[s.name];
      auto v = t->as<int64_t>();
      for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<int32_t>(v[i]);
      continue;
    }
    const ParamEntry* e = find(s.name);
    if (!e) continue;  // scales
    T* out = values.data() + e->offset;
    if (s.role == TensorRole::kFp8Weight || s.role == TensorRole::kFp4Weight) {
      const TensorInfo* sc = ck->find(stem_of(s.name) + "scale");
      if (!sc) return error("{}: missing tensor {}scale", path, stem_of(s.name));
      const int64_t rows = e->shape[0], cols = e->shape[1];
      auto w = t->as<uint8_t>();
      auto sv = sc->as<uint8_t>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k) {
          float x;
          if (s.role == TensorRole::kFp8Weight) {
            const int64_t sc_cols = (cols + cfg_.weight_block_cols - 1) / cfg_.weight_block_cols;
            x = fp8_e4m3_to_f32(w[r * cols + k]) *
                ue8m0_to_f32(sv[(r / cfg_.weight_block_rows) * sc_cols + k / cfg_.weight_block_cols]);
          } else {
            const uint8_t byte = w[r * (cols / 2) + k / 2];
            x = fp4_e2m1_to_f32(k % 2 ? fp4_high(byte) : fp4_low(byte)) *
                ue8m0_to_f32(sv[r * (cols / cfg_.fp4_block_size) + k / cfg_.fp4_block_size]);
          }
          out[r * cols + k] = static_cast<T>(x);
        }
    } else if (t->dtype == DType::kBF16) {
      auto v = t->as<uint16_t>();
      for (int64_t i = 0; i < e->numel; ++i) out[i] = static_cast<T>(bf16_to_f32(bf16{v[i]}));
    } else if (t->dtype == DType::kF32) {
      auto v = t->as<float>();
      for (int64_t i = 0; i < e->numel; ++i) out[i] = static_cast<T>(v[i]);
    } else {
      return error("{}: {} has an unexpected dtype", path, s.name);
    }
  }
  return ok_status();
}

template Status Params<float>::load_checkpoint(const std::string&);
template Status Params<double>::load_checkpoint(const std::string&);

}  // namespace dsv4::train

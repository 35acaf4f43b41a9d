// HF checkpoint -> deepseek4 GGUF -> the checkpoint view the engine loads (io/gguf_checkpoint.h):
// every tensor comes back under its HF name with the same dtype, shape and values.
#include "io/gguf_convert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "io/gguf_checkpoint.h"
#include "io/gguf_deepseek4.h"
#include "tensor/bf16.h"
#include "tensor/fp8.h"
#include "tensor/ggml_quants.h"

namespace dsv4 {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& name) { return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint"; }

std::string tmp_file(const std::string& name) {
  const fs::path d = fs::path(testing::TempDir()) / ("dsv4_gguf_convert_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return (d / name).string();
}

Result<std::string> convert(const std::string& ck_dir, GgmlType type, const std::string& out) {
  DSV4_ASSIGN_OR_RETURN(ModelConfig c, load_model_config(ck_dir));
  DSV4_ASSIGN_OR_RETURN(auto ck, Checkpoint::open(ck_dir));
  GgufWriter w;
  GgufConvertOptions o;
  o.linear_type = type;
  DSV4_TRY(add_deepseek4_model(*ck, c, o, w).status());
  DSV4_TRY(w.write(out));
  return out;
}

// The value of element i of an FP8 weight given its .scale (128x128 blocks).
float fp8_value(const TensorInfo& w, const TensorInfo& s, int64_t i) {
  const int64_t cols = w.shape[1], nbc = (cols + 127) / 128;
  const int64_t r = i / cols, c = i % cols;
  return fp8_e4m3_to_f32(w.data[i]) * ue8m0_to_f32(s.data[(r / 128) * nbc + c / 128]);
}

class GgufConvert : public testing::TestWithParam<std::string> {};

TEST_P(GgufConvert, Bf16RoundTripsEveryTensorTheEngineUses) {
  const std::string dir = golden(GetParam());
  if (!fs::exists(dir)) GTEST_SKIP() << "no golden checkpoint at " << dir;
  auto path = convert(dir, GgmlType::kBF16, tmp_file(GetParam() + ".gguf"));
  ASSERT_TRUE(path.ok()) << path.message();
  auto src = Checkpoint::open(dir);
  auto g = Checkpoint::open(*path);
  ASSERT_TRUE(src.ok() && g.ok()) << g.message();
  EXPECT_EQ((*g)->format(), "gguf");
  auto cfg = load_model_config(*path);
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  EXPECT_EQ(cfg->num_nextn_predict_layers, 0);
  auto src_cfg = load_model_config(dir);
  EXPECT_EQ(cfg->hidden_size, src_cfg->hidden_size);
  EXPECT_EQ(cfg->compress_ratios.size(), static_cast<size_t>(src_cfg->num_hidden_layers));
  EXPECT_EQ(cfg->rope_theta, src_cfg->rope_theta);
  EXPECT_EQ(cfg->hc_eps, src_cfg->hc_eps);
  int compared = 0;
  for (const TensorInfo* t : (*src)->tensors()) {
    if (t->name.starts_with("mtp.")) {
      EXPECT_EQ((*g)->find(t->name), nullptr) << t->name;
      continue;
    }
    const TensorInfo* u = (*g)->find(t->name);
    if (t->name.ends_with(".ffn.gate.bias") && !u) continue;  // hash layers: dropped (unused)
    if (t->name.find(".experts.") != std::string::npos && t->name.ends_with(".scale")) {
      EXPECT_EQ(u, nullptr) << t->name << ": inside the MXFP4 blocks";
      continue;
    }
    ASSERT_NE(u, nullptr) << t->name;
    if (t->dtype == DType::kI8) {  // FP4 experts: in place as MXFP4 blocks, the same codes and scales
      ASSERT_TRUE(u->ggml.has_value()) << t->name;
      EXPECT_EQ(*u->ggml, GgmlType::kMXFP4);
      const int64_t rows = t->shape[0], cols = 2 * t->shape[1];
      EXPECT_EQ(u->shape, (std::vector<int64_t>{rows, cols}));
      const TensorInfo* ts = (*src)->find(t->name.substr(0, t->name.size() - 7) + ".scale");
      ASSERT_NE(ts, nullptr);
      std::vector<uint8_t> mx(*ggml_row_bytes(GgmlType::kMXFP4, cols));
      for (int64_t r = 0; r < rows; ++r) {
        fp4_row_to_mxfp4(t->data + r * cols / 2, ts->data + r * cols / 32, cols, mx.data());
        ASSERT_EQ(std::memcmp(mx.data(), u->data + r * mx.size(), mx.size()), 0) << t->name << " row " << r;
      }
      ++compared;
      continue;
    }
    EXPECT_EQ(u->dtype, t->dtype) << t->name;
    EXPECT_EQ(u->shape, t->shape) << t->name;
    if (t->dtype == DType::kF8E4M3) {  // same values (codes and scales may be another equal pair)
      const std::string sn = t->name.substr(0, t->name.size() - 7) + ".scale";
      const TensorInfo *ts = (*src)->find(sn), *us = (*g)->find(sn);
      ASSERT_TRUE(ts && us) << sn;
      for (int64_t i = 0; i < t->numel(); ++i)
        ASSERT_EQ(fp8_value(*t, *ts, i), fp8_value(*u, *us, i)) << t->name << " element " << i;
    } else if (!t->name.ends_with(".scale") || t->dtype != DType::kF8E8M0) {
      ASSERT_EQ(u->nbytes(), t->nbytes()) << t->name;
      EXPECT_EQ(std::memcmp(u->data, t->data, t->nbytes()), 0) << t->name;
    }
    ++compared;
  }
  EXPECT_GT(compared, 100);
}

TEST_P(GgufConvert, Q8_0LinearsStayQuantizedAndCloseToTheFp8Values) {
  const std::string dir = golden(GetParam());
  if (!fs::exists(dir)) GTEST_SKIP() << "no golden checkpoint at " << dir;
  auto path = convert(dir, GgmlType::kQ8_0, tmp_file(GetParam() + "_q8.gguf"));
  ASSERT_TRUE(path.ok()) << path.message();
  auto src = Checkpoint::open(dir);
  auto g = Checkpoint::open(*path);
  ASSERT_TRUE(src.ok() && g.ok()) << g.message();
  const std::string name = "layers.0.attn.wq_a.weight";
  const TensorInfo *t = (*src)->find(name), *u = (*g)->find(name);
  ASSERT_TRUE(t && u);
  ASSERT_TRUE(u->ggml.has_value());
  EXPECT_EQ(*u->ggml, GgmlType::kQ8_0);
  EXPECT_EQ(u->shape, t->shape);
  const TensorInfo* ts = (*src)->find("layers.0.attn.wq_a.scale");
  const int64_t cols = t->shape[1];
  std::vector<float> row(cols);
  const uint64_t rb = *ggml_row_bytes(GgmlType::kQ8_0, cols);
  for (int64_t r = 0; r < t->shape[0]; ++r) {
    ASSERT_TRUE(dequantize_ggml_row(GgmlType::kQ8_0, u->data + r * rb, row.data(), cols));
    for (int64_t b = 0; b < cols / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(fp8_value(*t, *ts, r * cols + 32 * b + j)));
      for (int j = 0; j < 32; ++j) {  // half a quantization step (+ the fp16 scale's rounding)
        const float want = fp8_value(*t, *ts, r * cols + 32 * b + j);
        ASSERT_LE(std::fabs(row[32 * b + j] - want), amax / 127 * 0.5f * 1.01f + 1e-30f) << r << "," << 32 * b + j;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GgufConvert, testing::Values("tiny-flash", "tiny-pro"));

TEST(GgufCheckpoint, RefusesOtherArchitecturesAndUncomputableTypes) {
  {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    const std::string p = tmp_file("llama.gguf");
    ASSERT_TRUE(w.write(p).ok());
    auto ck = Checkpoint::open(p);
    ASSERT_FALSE(ck.ok());
    EXPECT_NE(ck.message().find("'llama'"), std::string::npos) << ck.message();
  }
  // A deepseek4 file whose wq_a is Q5_K (no kernel here): the error names the tensor and type.
  auto cfg = load_model_config(golden("tiny-flash"));
  if (!cfg.ok()) GTEST_SKIP() << "no golden checkpoint";
  GgufWriter w;
  write_deepseek4_metadata(*cfg, "t", w);
  w.add_tensor("token_embd.weight", GgmlType::kF32, {cfg->hidden_size, cfg->vocab_size},
               std::vector<uint8_t>(cfg->hidden_size * cfg->vocab_size * 4));
  const int64_t d = cfg->hidden_size, q = cfg->q_lora_rank;
  w.add_tensor("blk.0.attn_q_a.weight", GgmlType::kQ5_K, {d, q},
               std::vector<uint8_t>(*ggml_row_bytes(GgmlType::kQ5_K, d) * q));
  const std::string p = tmp_file("q5_k.gguf");
  ASSERT_TRUE(w.write(p).ok());
  auto ck = Checkpoint::open(p);
  ASSERT_FALSE(ck.ok());
  EXPECT_NE(ck.message().find("blk.0.attn_q_a.weight"), std::string::npos) << ck.message();
  EXPECT_NE(ck.message().find("q5_K"), std::string::npos) << ck.message();
}

}  // namespace
}  // namespace dsv4

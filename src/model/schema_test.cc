#include "model/schema.h"
#include "model/rewritten_checkpoint.h"

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "io/safetensors_writer.h"
#include "model/schema_random_init.h"
#include "model/schema_summary.h"

namespace dsv4 {
namespace {
namespace fs = std::filesystem;

std::string golden_dir(const char* name) { return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint"; }
std::string repo_config(const char* name) { return std::string(DSV4_SOURCE_DIR) + "/configs/" + name; }

ModelConfig load(const std::string& path) {
  auto c = load_model_config(path);
  EXPECT_TRUE(c.ok()) << c.message();
  return c.ok() ? *c : ModelConfig{};
}

TEST(Schema, GoldenCheckpointsMatch) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const ModelConfig cfg = load(golden_dir(name));
    auto ck = Checkpoint::open(golden_dir(name));
    ASSERT_TRUE(ck.ok()) << ck.message();
    const auto problems = checkpoint_problems(cfg, **ck);
    EXPECT_TRUE(problems.empty()) << name << ": " << (problems.empty() ? "" : problems[0]);
    EXPECT_TRUE(check_checkpoint(cfg, **ck).ok());
    EXPECT_EQ(expected_tensors(cfg).size(), (*ck)->tensors().size()) << name;
  }
}

// Spec §4.1: the real checkpoints hold 69,187 (Flash) and 145,116 (Pro) tensors.
TEST(Schema, RealModelTensorCounts) {
  EXPECT_EQ(expected_tensors(load(repo_config("v4-flash.json"))).size(), 69187u);
  EXPECT_EQ(expected_tensors(load(repo_config("v4-pro.json"))).size(), 145116u);
}

// A few rows of the §4.2 table, Flash and Pro.
TEST(Schema, SpecShapes) {
  struct Want {
    const char* config;
    const char* name;
    DType dtype;
    std::vector<int64_t> shape;
  };
  const Want wants[] = {
      {"v4-flash.json", "layers.0.attn.wq_a.scale", DType::kF8E8M0, {8, 32}},
      {"v4-flash.json", "layers.0.attn.wq_b.weight", DType::kF8E4M3, {32768, 1024}},
      {"v4-flash.json", "layers.0.attn.wo_a.weight", DType::kF8E4M3, {8192, 4096}},
      {"v4-flash.json", "layers.0.attn.wo_b.scale", DType::kF8E8M0, {32, 64}},
      {"v4-flash.json", "layers.2.ffn.gate.tid2eid", DType::kI64, {129280, 6}},
      {"v4-flash.json", "layers.3.ffn.gate.bias", DType::kF32, {256}},
      {"v4-flash.json", "layers.7.ffn.experts.255.w1.weight", DType::kI8, {2048, 2048}},
      {"v4-flash.json", "layers.7.ffn.experts.3.w2.scale", DType::kF8E8M0, {4096, 64}},
      {"v4-flash.json", "layers.2.attn.compressor.ape", DType::kF32, {4, 1024}},
      {"v4-flash.json", "layers.3.attn.compressor.ape", DType::kF32, {128, 512}},
      {"v4-flash.json", "layers.2.attn.indexer.wq_b.scale", DType::kF8E8M0, {64, 8}},
      {"v4-flash.json", "layers.2.attn.indexer.compressor.wkv.weight", DType::kBF16, {256, 4096}},
      {"v4-flash.json", "mtp.0.e_proj.scale", DType::kF8E8M0, {32, 32}},
      {"v4-flash.json", "mtp.0.hc_head_fn", DType::kF32, {4, 16384}},
      {"v4-flash.json", "hc_head_fn", DType::kF32, {4, 16384}},
      {"v4-pro.json", "layers.0.attn.wq_a.scale", DType::kF8E8M0, {12, 56}},
      {"v4-pro.json", "layers.0.attn.wo_a.scale", DType::kF8E8M0, {128, 32}},
      {"v4-pro.json", "layers.0.attn.wo_b.scale", DType::kF8E8M0, {56, 128}},
      {"v4-pro.json", "layers.0.attn.compressor.ape", DType::kF32, {128, 512}},
      {"v4-pro.json", "layers.5.ffn.experts.383.w1.weight", DType::kI8, {3072, 3584}},
      {"v4-pro.json", "layers.5.ffn.experts.0.w2.scale", DType::kF8E8M0, {7168, 96}},
      {"v4-pro.json", "layers.5.ffn.shared_experts.w2.scale", DType::kF8E8M0, {56, 24}},
  };
  std::map<std::string, std::vector<TensorSpec>> by_config;
  for (const Want& w : wants) {
    auto& specs = by_config[w.config];
    if (specs.empty()) specs = expected_tensors(load(repo_config(w.config)));
    const TensorSpec* found = nullptr;
    for (const auto& s : specs)
      if (s.name == w.name) found = &s;
    ASSERT_NE(found, nullptr) << w.name;
    EXPECT_EQ(found->dtype, w.dtype) << w.name;
    EXPECT_EQ(found->shape, w.shape) << w.name;
  }
  // Window-only layers and the MTP block have no compressor; HCA layers no indexer; hash layers no bias.
  for (const auto& s : by_config["v4-flash.json"]) {
    EXPECT_FALSE(s.name.starts_with("layers.0.attn.compressor")) << s.name;
    EXPECT_FALSE(s.name.starts_with("mtp.0.attn.compressor")) << s.name;
    EXPECT_FALSE(s.name.starts_with("layers.3.attn.indexer")) << s.name;
    EXPECT_NE(s.name, "layers.2.ffn.gate.bias");
    EXPECT_NE(s.name, "mtp.0.ffn.gate.tid2eid");
  }
}

TEST(Schema, Fp8ExpertVariant) {
  ModelConfig cfg = load(golden_dir("tiny-flash"));
  cfg.expert_dtype = "fp8";
  int experts = 0;
  for (const auto& s : expected_tensors(cfg)) {
    if (s.name == "layers.3.ffn.experts.2.w1.weight") {
      EXPECT_EQ(s.dtype, DType::kF8E4M3);
      EXPECT_EQ(s.shape, (std::vector<int64_t>{128, 256}));
    }
    if (s.name == "layers.3.ffn.experts.2.w2.scale") {
      EXPECT_EQ(s.dtype, DType::kF8E8M0);
      EXPECT_EQ(s.shape, (std::vector<int64_t>{2, 1}));
    }
    experts += s.expert >= 0;
    EXPECT_NE(s.dtype, DType::kI8) << s.name;
  }
  EXPECT_EQ(experts, 7 * 8 * 6);  // 7 blocks x 8 experts x (3 weights + 3 scales)
}

// Writes a copy of a golden checkpoint with one tensor changed, via the safetensors writer.
class SchemaMismatch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("schema_mismatch_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Copies tiny-flash through the writer, letting `edit` change the tensor list first.
  Result<std::unique_ptr<Checkpoint>> rewrite(const std::function<void(std::vector<TensorBlob>&)>& edit) {
    DSV4_TRY(testing_ckpt::rewrite_checkpoint(golden_dir("tiny-flash"), dir_, edit));
    return Checkpoint::open(dir_.string());
  }

  std::string first_problem(const std::function<void(std::vector<TensorBlob>&)>& edit) {
    auto ck = rewrite(edit);
    EXPECT_TRUE(ck.ok()) << ck.message();
    if (!ck.ok()) return "";
    const Status st = check_checkpoint(load(golden_dir("tiny-flash")), **ck);
    return st.ok() ? "<ok>" : st.message();
  }

  fs::path dir_;
};

TEST_F(SchemaMismatch, UnchangedCopyPasses) { EXPECT_EQ(first_problem([](auto&) {}), "<ok>"); }

TEST_F(SchemaMismatch, ShapeMismatchNamesTensorAndShapes) {
  const std::string msg = first_problem([](std::vector<TensorBlob>& b) {
    for (auto& t : b)
      if (t.name == "layers.4.attn.wq_b.weight") t.shape = {512, 256};  // same bytes, wrong shape
  });
  EXPECT_NE(msg.find("layers.4.attn.wq_b.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected F8_E4M3 [1024, 128], found F8_E4M3 [512, 256]"), std::string::npos) << msg;
}

TEST_F(SchemaMismatch, DtypeMismatch) {
  const std::string msg = first_problem([](std::vector<TensorBlob>& b) {
    for (auto& t : b)
      if (t.name == "norm.weight") t.dtype = DType::kF16;
  });
  EXPECT_NE(msg.find("'norm.weight': expected BF16 [256], found F16 [256]"), std::string::npos) << msg;
}

TEST_F(SchemaMismatch, MissingAndUnexpected) {
  std::string msg = first_problem([](std::vector<TensorBlob>& b) {
    std::erase_if(b, [](const TensorBlob& t) { return t.name == "layers.5.attn.compressor.ape"; });
  });
  EXPECT_NE(msg.find("missing tensor 'layers.5.attn.compressor.ape' (expected F32 [128, 128])"), std::string::npos)
      << msg;
  msg = first_problem([](std::vector<TensorBlob>& b) {
    b.push_back({"layers.0.ffn.gate.bias", DType::kF32, {8}, std::vector<uint8_t>(32, 0)});
  });
  EXPECT_NE(msg.find("unexpected tensor 'layers.0.ffn.gate.bias' (F32 [8])"), std::string::npos) << msg;
}

// make-model's generator produces exactly the golden inventory, and obeys the format rules.
TEST(SchemaRandomInit, MatchesGoldenInventoryAndFormats) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const ModelConfig cfg = load(golden_dir(name));
    auto ck = Checkpoint::open(golden_dir(name));
    ASSERT_TRUE(ck.ok()) << ck.message();
    const std::vector<TensorBlob> blobs = random_checkpoint_tensors(cfg, 7);
    ASSERT_EQ(blobs.size(), (*ck)->tensors().size());
    for (const TensorBlob& b : blobs) {
      const TensorInfo* g = (*ck)->find(b.name);
      ASSERT_NE(g, nullptr) << b.name;
      EXPECT_EQ(b.dtype, g->dtype) << b.name;
      EXPECT_EQ(b.shape, g->shape) << b.name;
      EXPECT_EQ(b.bytes.size(), g->nbytes()) << b.name;
      if (b.name.ends_with("tid2eid")) {  // distinct ids in [0, E) per row
        const auto* ids = reinterpret_cast<const int64_t*>(b.bytes.data());
        const int64_t k = b.shape[1];
        for (int64_t r = 0; r < b.shape[0]; ++r) {
          std::set<int64_t> row(ids + r * k, ids + (r + 1) * k);
          EXPECT_EQ(static_cast<int64_t>(row.size()), k) << b.name << " row " << r;
          EXPECT_GE(*row.begin(), 0);
          EXPECT_LT(*row.rbegin(), cfg.n_routed_experts);
        }
      }
      if (b.dtype == DType::kF8E8M0)  // no NaN scales, plausible magnitudes (2^-20 .. 2^0)
        for (uint8_t e : b.bytes) {
          EXPECT_GE(e, 107) << b.name;
          EXPECT_LE(e, 127) << b.name;
        }
      if (b.dtype == DType::kF8E4M3) {
        for (uint8_t q : b.bytes) EXPECT_NE(q & 0x7f, 0x7f) << b.name;  // no NaN codes
      }
    }
  }
}

TEST(SchemaRandomInit, DeterministicPerSeed) {
  const ModelConfig cfg = load(golden_dir("tiny-pro"));
  const auto a = random_checkpoint_tensors(cfg, 1), b = random_checkpoint_tensors(cfg, 1),
             c = random_checkpoint_tensors(cfg, 2);
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].bytes, b[i].bytes) << a[i].name;
    differ += a[i].bytes != c[i].bytes;
  }
  EXPECT_GT(differ, a.size() * 9 / 10);
}

// Spec §1.4 and §3.2 figures.
TEST(SchemaSummary, RealModelFigures) {
  const ParamCounts f = count_params(load(repo_config("v4-flash.json")));
  EXPECT_EQ(f.total, 284332240471);
  EXPECT_EQ(f.active, 13270101591);
  EXPECT_NEAR(f.mtp / 1e9, 6.6, 0.05);
  EXPECT_NEAR((f.total + f.mtp) / 1e9, 290.9, 0.05);
  const ParamCounts p = count_params(load(repo_config("v4-pro.json")));
  EXPECT_NEAR(p.total / 1e9, 1573, 0.5);
  EXPECT_NEAR(p.active / 1e9, 48.9, 0.05);
  EXPECT_NEAR(p.mtp / 1e9, 25.8, 0.05);
  EXPECT_NEAR((p.total + p.mtp) / 1e9, 1599, 0.5);

  const KvCacheSize kf = kv_cache_size(load(repo_config("v4-flash.json")));
  EXPECT_EQ(kf.bf16_bytes_per_token, 6880);
  EXPECT_EQ(kf.packed_bytes_per_token, 3514.25);
  EXPECT_EQ(kf.window_ring_bytes, 44 * 128 * 512 * 2);
  const KvCacheSize kp = kv_cache_size(load(repo_config("v4-pro.json")));
  EXPECT_EQ(kp.bf16_bytes_per_token, 9848);
  EXPECT_NEAR(kp.packed_bytes_per_token, 5031, 0.5);
  EXPECT_EQ(kp.window_ring_bytes, 62 * 128 * 1024);
}

// Parameter count from the golden checkpoint's bytes equals the schema's.
TEST(SchemaSummary, ParamsMatchCheckpointBytes) {
  const ModelConfig cfg = load(golden_dir("tiny-flash"));
  auto ck = Checkpoint::open(golden_dir("tiny-flash"));
  ASSERT_TRUE(ck.ok());
  int64_t from_ck = 0;
  for (const TensorInfo* t : (*ck)->tensors()) {
    if (t->dtype == DType::kF8E8M0 || t->dtype == DType::kI64) continue;
    from_ck += t->dtype == DType::kI8 ? 2 * t->numel() : t->numel();
  }
  const ParamCounts p = count_params(cfg);
  EXPECT_EQ(p.total + p.mtp, from_ck);
  // Active: 4 of 8 experts per layer: half of the routed-expert parameters drop out.
  const int64_t expert = 3 * 128 * 256;  // w1, w2, w3 of one expert (logical)
  EXPECT_EQ(p.total - p.active, p.embedding + 6 * 4 * expert);
  EXPECT_EQ(p.mtp - p.mtp_active, 4 * expert);
}

}  // namespace
}  // namespace dsv4

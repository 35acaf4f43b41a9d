// End to end: `dsv4 make-model` writes checkpoints with exactly the golden layout.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/config.h"
#include "io/safetensors_writer.h"
#include "model/schema.h"
#include "model/schema_random_init.h"

namespace {
namespace fs = std::filesystem;

std::string slurp_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the dsv4 binary; returns the exit code, stderr in *err.
int dsv4_exec(const std::string& args, std::string* err) {
  const fs::path errf = fs::path(testing::TempDir()) / ("mm_err_" + std::to_string(::getpid()));
  const std::string cmd = std::string("'") + DSV4_EXE + "' " + args + " >/dev/null 2>'" + errf.string() + "'";
  const int status = std::system(cmd.c_str());
  *err = slurp_file(errf);
  fs::remove(errf);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string golden(const char* name) { return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint"; }

class MakeModel : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(testing::TempDir()) / ("make_model_" + std::to_string(::getpid()));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path make(const std::string& config, const std::string& out, int seed) {
    std::string err;
    const fs::path dir = root_ / out;
    EXPECT_EQ(dsv4_exec(fmt_args(config, dir, seed), &err), 0) << err;
    return dir;
  }
  static std::string fmt_args(const std::string& config, const fs::path& out, int seed) {
    return "make-model --config '" + config + "' --out '" + out.string() + "' --seed " + std::to_string(seed);
  }
  fs::path root_;
};

TEST_F(MakeModel, SameInventoryAsGolden) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const fs::path dir = make(golden(name) + "/config.json", name, 5);
    auto made = dsv4::Checkpoint::open(dir.string());
    ASSERT_TRUE(made.ok()) << made.message();
    auto gold = dsv4::Checkpoint::open(golden(name));
    ASSERT_TRUE(gold.ok()) << gold.message();
    EXPECT_GE((*made)->shards().size(), 2u);
    const auto a = (*made)->tensors(), b = (*gold)->tensors();
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i]->name, b[i]->name);
      EXPECT_EQ(a[i]->dtype, b[i]->dtype) << a[i]->name;
      EXPECT_EQ(a[i]->shape, b[i]->shape) << a[i]->name;
    }
    auto cfg = dsv4::load_model_config(dir.string());
    ASSERT_TRUE(cfg.ok()) << cfg.message();
    EXPECT_TRUE(dsv4::check_checkpoint(*cfg, **made).ok());
    EXPECT_EQ(slurp_file(dir / "config.json"), slurp_file(fs::path(golden(name)) / "config.json"));
    // The index lists every tensor with its shard, and total_size is the sum of tensor bytes.
    const auto index = nlohmann::json::parse(slurp_file(dir / "model.safetensors.index.json"));
    EXPECT_EQ(index["weight_map"].size(), a.size());
    uint64_t total = 0;
    for (const auto* t : a) total += t->nbytes();
    EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), total);
    std::string err;
    EXPECT_EQ(dsv4_exec("info -m '" + dir.string() + "'", &err), 0) << err;
  }
}

TEST_F(MakeModel, DeterministicForASeed) {
  const std::string cfg = golden("tiny-pro") + "/config.json";
  const fs::path a = make(cfg, "a", 11), b = make(cfg, "b", 11), c = make(cfg, "c", 12);
  for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    EXPECT_TRUE(slurp_file(a / f) == slurp_file(b / f)) << f;
    EXPECT_FALSE(slurp_file(a / f) == slurp_file(c / f)) << f;
  }
}

TEST_F(MakeModel, DefaultConfig) {
  const fs::path dir = make(std::string(DSV4_SOURCE_DIR) + "/configs/default.json", "default", 1);
  auto ck = dsv4::Checkpoint::open(dir.string());
  ASSERT_TRUE(ck.ok()) << ck.message();
  const dsv4::TensorInfo* e = (*ck)->find("embed.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{1024, 256}));
  const dsv4::TensorInfo* t = (*ck)->find("layers.2.ffn.gate.tid2eid");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{1024, 4}));
}

TEST_F(MakeModel, BadConfigIsOneLineError) {
  fs::create_directories(root_);
  std::ofstream(root_ / "bad.json") << "{\"vocab_size\": 10}";
  std::string err;
  EXPECT_EQ(dsv4_exec(fmt_args((root_ / "bad.json").string(), root_ / "out", 1), &err), 1);
  EXPECT_EQ(err.rfind("dsv4 make-model: ", 0), 0u) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
  EXPECT_FALSE(fs::exists(root_ / "out" / "model.safetensors.index.json"));
  // A real-size config is refused up front (it would not fit in memory).
  EXPECT_EQ(dsv4_exec(fmt_args(std::string(DSV4_SOURCE_DIR) + "/configs/v4-flash.json", root_ / "big", 1), &err), 1);
  EXPECT_NE(err.find("GiB"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(root_ / "big"));
}

// make-model streams tensor by tensor; its files are byte-identical to building the whole model in
// memory (random_checkpoint_tensors) and writing it with the in-memory writer, for the same seed.
TEST_F(MakeModel, StreamingEqualsInMemoryWriter) {
  const std::string cfg_path = std::string(DSV4_SOURCE_DIR) + "/configs/default.json";
  const fs::path streamed = make(cfg_path, "streamed", 3);
  auto cfg = dsv4::load_model_config(cfg_path);
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  const std::vector<dsv4::TensorBlob> blobs = dsv4::random_checkpoint_tensors(*cfg, 3);
  const std::vector<dsv4::TensorSpec> specs = dsv4::expected_tensors(*cfg);
  std::vector<int> shard_of(specs.size());
  for (size_t i = 0; i < specs.size(); ++i)  // the small-model layout make-model uses
    shard_of[i] = specs[i].name == "embed.weight" ||
                          (specs[i].layer >= 0 && !specs[i].is_mtp && specs[i].layer < cfg->num_hidden_layers / 2)
                      ? 0
                      : 1;
  const fs::path in_memory = root_ / "in_memory";
  ASSERT_TRUE(dsv4::write_sharded_safetensors(in_memory.string(), blobs, shard_of).ok());
  for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                        "model.safetensors.index.json"})
    EXPECT_TRUE(slurp_file(streamed / f) == slurp_file(in_memory / f)) << f;
}

// The flash-slice preset: real V4-Flash dimensions, L main layers covering CSA and HCA, hash
// routing where the real model has it, a config that `dsv4 info` validates. --dry-run writes nothing.
TEST_F(MakeModel, FlashSliceDryRunConfig) {
  auto flash = dsv4::load_model_config(std::string(DSV4_SOURCE_DIR) + "/configs/v4-flash.json");
  ASSERT_TRUE(flash.ok()) << flash.message();
  fs::create_directories(root_);
  struct Case {
    int layers;
    std::vector<int> ratios;  // main layers, then the MTP block
    int hash_layers;
  };
  for (const Case& c : {Case{2, {4, 128, 0}, 1}, Case{3, {0, 4, 128, 0}, 2}, Case{5, {0, 0, 4, 128, 4, 0}, 3},
                        Case{1, {0, 0}, 1}}) {
    const fs::path out = root_ / ("slice" + std::to_string(c.layers));
    const fs::path cfg_file = root_ / ("slice" + std::to_string(c.layers) + ".json");
    std::string err;
    const std::string cmd = "make-model --preset flash-slice --layers " + std::to_string(c.layers) + " --out '" +
                            out.string() + "' --dry-run";
    ASSERT_EQ(std::system((std::string("'") + DSV4_EXE + "' " + cmd + " > '" + cfg_file.string() + "' 2>/dev/null")
                              .c_str()),
              0);
    EXPECT_FALSE(fs::exists(out)) << "--dry-run wrote " << out;
    auto cfg = dsv4::load_model_config(cfg_file.string());
    ASSERT_TRUE(cfg.ok()) << cfg.message();
    EXPECT_EQ(cfg->num_hidden_layers, c.layers);
    EXPECT_EQ(cfg->compress_ratios, c.ratios);
    EXPECT_EQ(cfg->num_hash_layers, c.hash_layers);
    EXPECT_EQ(cfg->num_nextn_predict_layers, flash->num_nextn_predict_layers);
    // Every dimension is the real model's.
    EXPECT_EQ(cfg->hidden_size, flash->hidden_size);
    EXPECT_EQ(cfg->num_attention_heads, flash->num_attention_heads);
    EXPECT_EQ(cfg->head_dim, flash->head_dim);
    EXPECT_EQ(cfg->n_routed_experts, flash->n_routed_experts);
    EXPECT_EQ(cfg->moe_intermediate_size, flash->moe_intermediate_size);
    EXPECT_EQ(cfg->num_experts_per_tok, flash->num_experts_per_tok);
    EXPECT_EQ(cfg->vocab_size, flash->vocab_size);
    EXPECT_EQ(cfg->expert_dtype, "fp4");
    EXPECT_EQ(cfg->index_topk, flash->index_topk);
    EXPECT_EQ(cfg->sliding_window, flash->sliding_window);
    if (c.layers >= 2) {
      bool csa = false, hca = false;
      for (const dsv4::LayerSpec& ls : cfg->layers()) {
        csa |= !ls.is_mtp && ls.attn == dsv4::AttnKind::kCsa;
        hca |= !ls.is_mtp && ls.attn == dsv4::AttnKind::kHca;
      }
      EXPECT_TRUE(csa && hca) << c.layers;
    }
    EXPECT_EQ(dsv4_exec("info --config '" + cfg_file.string() + "'", &err), 0) << err;
  }
  std::string err;
  EXPECT_EQ(dsv4_exec("make-model --preset flash-slice --layers 0 --dry-run", &err), 1);
  EXPECT_NE(err.find("--layers 0 is out of range"), std::string::npos) << err;
  EXPECT_EQ(dsv4_exec("make-model --preset nope --out '" + (root_ / "n").string() + "'", &err), 1);
  EXPECT_NE(err.find("unknown preset 'nope'"), std::string::npos) << err;
  EXPECT_EQ(dsv4_exec("make-model --preset flash-slice --config x.json --out '" + (root_ / "n").string() + "'", &err),
            1);
  EXPECT_NE(err.find("exactly one of --config and --preset"), std::string::npos) << err;
}

}  // namespace

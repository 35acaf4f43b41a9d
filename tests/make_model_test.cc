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
#include "model/schema.h"

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

}  // namespace

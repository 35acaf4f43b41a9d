// End to end: `dsv4 info` on configs, golden checkpoints and corrupted copies of them.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"

namespace {
namespace fs = std::filesystem;

using dsv4::testing_cli::CmdResult;
using dsv4::testing_cli::run_dsv4;
using dsv4::testing_cli::slurp;

std::string repo(const char* rel) { return std::string(DSV4_SOURCE_DIR) + "/" + rel; }
std::string golden(const char* name) { return std::string(DSV4_SHARED_DIR) + "/golden/" + name + "/checkpoint"; }

TEST(CliInfo, FlashFigures) {
  const CmdResult r = run_dsv4("info --config '" + repo("configs/v4-flash.json") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("total 284.3B (290.9B with MTP), active 13.3B per token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MTP 6.6B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6880 B/token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("69187 tensors"), std::string::npos) << r.out;
}

TEST(CliInfo, ProFigures) {
  const CmdResult r = run_dsv4("info --config '" + repo("configs/v4-pro.json") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("total 1573B (1599B with MTP), active 48.9B per token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MTP 25.8B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("9848 B/token"), std::string::npos) << r.out;
}

TEST(CliInfo, JsonOutput) {
  const CmdResult r = run_dsv4("info --json --config '" + repo("configs/v4-flash.json") + "'");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["params_total"].get<int64_t>(), 284332240471);
  EXPECT_EQ(j["params_active"].get<int64_t>(), 13270101591);
  EXPECT_NEAR(j["params_mtp"].get<double>() / 1e9, 6.61, 0.005);
  EXPECT_EQ(j["kv_bytes_per_token"].get<double>(), 6880);
  EXPECT_EQ(j["kv_window_ring_bytes"].get<int64_t>(), 44 * 128 * 512 * 2);
  ASSERT_EQ(j["layers"].size(), 44u);
  EXPECT_EQ(j["layers"][0]["compress_ratio"], 0);
  EXPECT_EQ(j["layers"][0]["routing"], "hash");
  EXPECT_EQ(j["layers"][2]["compress_ratio"], 4);
  EXPECT_EQ(j["layers"][2]["attention"], "csa");
  EXPECT_EQ(j["layers"][3]["compress_ratio"], 128);
  EXPECT_EQ(j["layers"][3]["routing"], "topk");
  EXPECT_EQ(j["layers"][43]["mtp"], true);
  EXPECT_EQ(j["layers"][43]["index"], 43);
}

TEST(CliInfo, GoldenCheckpoints) {
  for (const char* name : {"tiny-flash", "tiny-pro"}) {
    const CmdResult r = run_dsv4("info --json -m '" + golden(name) + "'");
    ASSERT_EQ(r.rc, 0) << name << ": " << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tensors"]["count"], std::string(name) == "tiny-flash" ? 585 : 424);
    EXPECT_EQ(j["tensors"]["by_dtype"]["I64"]["count"], 3);
    EXPECT_GT(j["params_active"].get<int64_t>(), 0);
    EXPECT_LT(j["params_active"].get<int64_t>(), j["params_total"].get<int64_t>());
  }
}

TEST(CliInfo, UsageErrors) {
  CmdResult r = run_dsv4("info");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("exactly one of"), std::string::npos) << r.err;
  r = run_dsv4("info --config /nonexistent/config.json");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("/nonexistent/config.json"), std::string::npos) << r.err;
}

// Corrupted copies of tiny-pro: each must give one line on stderr and exit code 1, never a crash.
class CliInfoCorrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(testing::TempDir()) / ("info_corrupt_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::copy(golden("tiny-pro"), dir_);
    for (const auto& e : fs::directory_iterator(dir_))
      fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path shard(int i) const { return dir_ / ("model-0000" + std::to_string(i) + "-of-00002.safetensors"); }

  void patch(const fs::path& p, size_t offset, const std::string& bytes) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // Replaces the first occurrence of `from` in the shard's header by `to` (same length).
  void replace_in_header(const fs::path& p, const std::string& from, const std::string& to) {
    ASSERT_EQ(from.size(), to.size());
    const std::string raw = slurp(p);
    const size_t at = raw.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    patch(p, at, to);
  }

  // Runs info and checks the one-line-error contract; returns stderr.
  std::string expect_one_line_error() {
    const CmdResult r = run_dsv4("info -m '" + dir_.string() + "'");
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.rfind("dsv4 info: ", 0), 0u) << r.err;
    EXPECT_FALSE(r.err.empty());
    if (!r.err.empty()) {
      EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
    }
    return r.err;
  }

  fs::path dir_;
};

TEST_F(CliInfoCorrupt, IntactCopyPasses) {
  const CmdResult r = run_dsv4("info -m '" + dir_.string() + "'");
  EXPECT_EQ(r.rc, 0) << r.err;
}

TEST_F(CliInfoCorrupt, TruncatedShard) {
  fs::resize_file(shard(2), fs::file_size(shard(2)) / 2);
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("model-00002-of-00002.safetensors"), std::string::npos) << err;
}

TEST_F(CliInfoCorrupt, ShardCutInsideHeader) {
  fs::resize_file(shard(1), 100);
  expect_one_line_error();
}

TEST_F(CliInfoCorrupt, EmptyShard) {
  fs::resize_file(shard(1), 0);
  expect_one_line_error();
}

TEST_F(CliInfoCorrupt, HeaderLengthHuge) {
  patch(shard(1), 7, std::string(1, '\x80'));  // top byte of the little-endian length
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("header length"), std::string::npos) << err;
}

TEST_F(CliInfoCorrupt, HeaderLengthOffByOne) {
  const std::string raw = slurp(shard(1));
  patch(shard(1), 0, std::string(1, static_cast<char>(raw[0] ^ 0x01)));
  expect_one_line_error();
}

TEST_F(CliInfoCorrupt, HeaderLengthShort) {
  patch(shard(2), 1, std::string(1, '\0'));  // cuts the JSON in the middle
  expect_one_line_error();
}

TEST_F(CliInfoCorrupt, UnknownDtypeString) {
  replace_in_header(shard(1), "\"dtype\":\"BF16\"", "\"dtype\":\"BX16\"");
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("BX16"), std::string::npos) << err;
}

TEST_F(CliInfoCorrupt, WrongButValidDtype) {
  // "F16" has BF16's size, so the file stays consistent; only the schema check can catch it.
  replace_in_header(shard(2), "\"norm.weight\":{\"dtype\":\"BF16\"", "\"norm.weight\":{\"dtype\":\"F16\" ");
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("'norm.weight': expected BF16 [256], found F16 [256]"), std::string::npos) << err;
}

TEST_F(CliInfoCorrupt, ShapeMismatch) {
  replace_in_header(shard(1), "\"embed.weight\":{\"dtype\":\"BF16\",\"shape\":[384,256]",
                    "\"embed.weight\":{\"dtype\":\"BF16\",\"shape\":[256,384]");
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("'embed.weight': expected BF16 [384, 256], found BF16 [256, 384]"), std::string::npos) << err;
}

TEST_F(CliInfoCorrupt, ByteCountMismatch) {
  replace_in_header(shard(1), "\"embed.weight\":{\"dtype\":\"BF16\",\"shape\":[384,256]",
                    "\"embed.weight\":{\"dtype\":\"BF16\",\"shape\":[384,255]");
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("embed.weight"), std::string::npos) << err;
}

TEST_F(CliInfoCorrupt, MissingShardAndBrokenIndex) {
  fs::remove(shard(2));
  std::string err = expect_one_line_error();
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
  std::ofstream(dir_ / "model.safetensors.index.json") << "{\"weight_map\": [";
  expect_one_line_error();
}

TEST_F(CliInfoCorrupt, BrokenConfig) {
  std::ofstream(dir_ / "config.json") << "{\"vocab_size\": \"many\"}";
  const std::string err = expect_one_line_error();
  EXPECT_NE(err.find("vocab_size"), std::string::npos) << err;
}

}  // namespace

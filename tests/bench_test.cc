// dsv4 bench end to end on a small model (the default config), with tiny sizes so it runs in
// seconds; and the cost model it divides by, against figures worked out by hand for V4-Flash.
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "io/config.h"
#include "model/schema_cost.h"

namespace {
namespace fs = std::filesystem;
using dsv4::testing_cli::run_dsv4;

std::string last_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

class Bench : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(testing::TempDir()) / ("bench_model_" + std::to_string(::getpid())));
    const auto r = run_dsv4("make-model --config '" + std::string(DSV4_SOURCE_DIR) + "/configs/default.json' --out '" +
                            dir_->string() + "' --seed 1");
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path* dir_;
};
fs::path* Bench::dir_ = nullptr;

TEST_F(Bench, LastLineHasPositiveFigures) {
  const auto r = run_dsv4("bench -m '" + dir_->string() +
                          "' --prompt 8 --gen 3 --threads 2 --bw-mb 64 --reps 2 --gemm-m 64 --gemm-n 128 --gemm-k 128");
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string line = last_line(r.out);
  static const std::regex format(
      R"(decode_tps=(\S+) prefill_tps=(\S+) decode_bw_fraction=(\S+) prefill_peak_fraction=(\S+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, format)) << line;
  for (int i = 1; i <= 3; ++i) {
    const double v = std::stod(m[i].str());
    EXPECT_TRUE(std::isfinite(v) && v > 0) << m[i].str() << " in " << line;
  }
  // The GEMM peak needs oneDNN; a build without it says so and reports nan.
  if (r.out.find("gemm peak used: none") == std::string::npos) {
    const double v = std::stod(m[4].str());
    EXPECT_TRUE(std::isfinite(v) && v > 0) << line;
  } else {
    EXPECT_EQ(m[4].str(), "nan");
  }
  // Both phases are profiled, with the MoE and its experts nested.
  EXPECT_NE(r.out.find("profile prefill"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("profile decode"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    moe.routed_experts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linear.fp4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory: read "), std::string::npos) << r.out;
}

// Decode vs context: several --ctx values decode from each length (synthetic rows, labelled so),
// the last line lists them in order, and the rows held match the formula.
TEST_F(Bench, ContextSweepLastLine) {
  const auto r = run_dsv4("bench -m '" + dir_->string() +
                          "' --prompt 8 --gen 2 --ctx 4096,512 --bw-mb 16 --reps 1 --gemm-m 16 --gemm-n 64 --gemm-k 64 --no-warm");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("SYNTHETIC rows beyond the 8-token prompt"), std::string::npos) << r.out;
  const std::string line = last_line(r.out);
  static const std::regex format(R"(decode_tps_by_ctx=512:(\S+),4096:(\S+))");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, format)) << line;
  for (int i = 1; i <= 2; ++i) EXPECT_GT(std::stod(m[i].str()), 0) << line;
  static const std::regex rows(R"(KV rows (\S+) MiB \(formula (\S+)\))");
  int seen = 0;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), rows); it != std::sregex_iterator(); ++it, ++seen)
    EXPECT_EQ((*it)[1].str(), (*it)[2].str()) << r.out;
  EXPECT_EQ(seen, 2) << r.out;
  const auto bad = run_dsv4("bench -m '" + dir_->string() + "' --prompt 64 --ctx 32,4096 --bw-mb 16 --reps 1 --no-warm");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("shorter than --prompt"), std::string::npos) << bad.err;
}

TEST_F(Bench, BadInputIsOneLineError) {
  for (const char* args : {"--prompt 0 --bw-mb 16", "--gen 0 --bw-mb 16", "--bw-mb 0", "--reps 0 --bw-mb 16"}) {
    const auto r = run_dsv4("bench -m '" + dir_->string() + "' " + args);
    EXPECT_EQ(r.rc, 1) << args;
    EXPECT_EQ(r.err.rfind("dsv4 bench: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
  const auto r = run_dsv4("bench -m /no/such/model --bw-mb 16 --reps 1");
  EXPECT_EQ(r.rc, 1);
}

// V4-Flash by hand (d 4096, H 64, D 512, E 256, F 2048, k 6, V 129280, 43 layers: 2 window,
// 21 CSA, 20 HCA, 3 hash; window 128, index_topk 512, indexer 64 x 128).
TEST(BenchCost, FlashFigures) {
  auto cfg = dsv4::load_model_config(std::string(DSV4_SOURCE_DIR) + "/configs/v4-flash.json");
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  // Linear FLOPs: 2 x active parameters (13,270,101,591; spec 13.3B).
  const dsv4::PrefillFlops f1 = dsv4::prefill_flops_per_token(*cfg, 1);
  EXPECT_DOUBLE_EQ(f1.linear, 2.0 * 13270101591);
  // One token at position 0: one window candidate per layer, nothing compressed yet.
  EXPECT_DOUBLE_EQ(f1.attention, 43 * 4.0 * 64 * 512);
  // KV read at ctx 4096: 43 windows of 128 rows; CSA 1024 compressed -> 512 selected rows + 1024
  // indexer keys (128 x bf16); HCA 4096 / 128 = 32 rows. Rows are 512 x bf16.
  const dsv4::DecodeBytes b = dsv4::decode_bytes_per_token(*cfg, 4096);
  EXPECT_EQ(b.kv, 43 * 128 * 1024 + 21 * (512 * 1024 + 1024 * 256) + 20 * 32 * 1024);
  // Weights: each chosen routed expert is 3 FP4 matrices of 2048 x 4096 (packed bytes + one scale
  // per 32) in each of the 43 layers; the LM head is read whole (bf16), the embedding one row.
  dsv4::ModelConfig fewer = *cfg;
  fewer.num_experts_per_tok = 5;
  // (each of the 3 hash layers also reads one id fewer from its tid2eid row: 8 bytes)
  EXPECT_EQ(b.weights - dsv4::decode_bytes_per_token(fewer, 4096).weights,
            43 * 3 * (2048 * 4096 / 2 + 2048 * 4096 / 32) + 3 * 8);
  dsv4::ModelConfig wider = *cfg;
  wider.vocab_size += 128;
  EXPECT_EQ(dsv4::decode_bytes_per_token(wider, 4096).weights - b.weights, 128 * 4096 * 2);
  // FP8 attention (~4.6 GB), FP4 experts (~3.5 GB), FP8 shared experts (~1.1 GB), head (~1.1 GB),
  // bf16 compressors, router and HC mixers: about 11 GB per token.
  EXPECT_GT(b.weights, 10'000'000'000);
  EXPECT_LT(b.weights, 12'500'000'000);
}

}  // namespace

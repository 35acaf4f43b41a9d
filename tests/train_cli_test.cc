// End to end: `dsv4 train` on the default config and a small text, a few steps. The export loads
// in the engine (info, run, perplexity), a resumed run ends bit for bit where a straight run does,
// and bad input is a one-line error.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runner.h"

namespace {
namespace fs = std::filesystem;

using dsv4::testing_cli::CmdResult;
using dsv4::testing_cli::run_dsv4;
using dsv4::testing_cli::scratch_dir;
using dsv4::testing_cli::slurp;

std::string repo(const char* rel) { return std::string(DSV4_SOURCE_DIR) + "/" + rel; }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir();
    text_ = dir_ / "text.txt";
    std::string t = slurp(repo("configs/tokenizer_corpus.txt"));
    std::ofstream(text_) << t.substr(0, 20000);
    tok_ = dir_ / "tokenizer.json";
    const CmdResult r = run_dsv4("make-tokenizer --config " + q(repo("configs/default.json")) + " --corpus " + q(text_) +
                                 " --out " + q(tok_));
    ASSERT_EQ(r.rc, 0) << r.err;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string train_cmd(const fs::path& out, int steps) const {
    return "train --config " + q(repo("configs/default.json")) + " --tokenizer " + q(tok_) + " --data " + q(text_) +
           " --heldout " + q(text_) + " --out " + q(out) + " --steps " + std::to_string(steps) +
           " --batch 2 --seq 32 --warmup 2 --eval-every 3 --eval-tokens 64 --save-every 3 --seed 5";
  }
  fs::path dir_, text_, tok_;
};

// loss.tsv without its timing columns (tokens/s, GFLOP/s), which differ between runs.
std::string loss_log_without_timing(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::string line, out;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, '\t');) cols.push_back(c);
    for (size_t i = 0; i < cols.size() && i < 8; ++i) out += cols[i] + "\t";
    out += "\n";
  }
  return out;
}

TEST_F(TrainCli, ExportLoadsInTheEngine) {
  const fs::path out = dir_ / "run";
  const CmdResult r = run_dsv4(train_cmd(out, 4));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("step 4/4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("held-out"), std::string::npos) << r.err;
  for (const char* f : {"config.json", "model.safetensors.index.json", "tokenizer.json", "train_state.bin", "loss.tsv"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_EQ(loss_log_without_timing(out / "loss.tsv").size() > 0, true);
  const CmdResult info = run_dsv4("info -m " + q(out));
  EXPECT_EQ(info.rc, 0) << info.err;
  const CmdResult run = run_dsv4("run -m " + q(out) + " -p 'In the beginning' -n 4 --ignore-eos");
  EXPECT_EQ(run.rc, 0) << run.err;
  const CmdResult ppl = run_dsv4("perplexity -m " + q(out) + " --text " + q(text_) + " --ctx 64");
  EXPECT_EQ(ppl.rc, 0) << ppl.err;
  EXPECT_NE(ppl.out.find("perplexity="), std::string::npos);
}

TEST_F(TrainCli, ResumedRunEndsBitForBitWhereAStraightRunDoes) {
  const fs::path a = dir_ / "straight", b = dir_ / "resumed";
  CmdResult r = run_dsv4(train_cmd(a, 6));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_dsv4(train_cmd(b, 3));
  ASSERT_EQ(r.rc, 0) << r.err;
  r = run_dsv4(train_cmd(b, 6) + " --resume");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("resumed at step 3"), std::string::npos) << r.err;
  for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "train_state.bin"})
    EXPECT_TRUE(slurp(a / f) == slurp(b / f)) << f << " differs";
  EXPECT_EQ(loss_log_without_timing(a / "loss.tsv"), loss_log_without_timing(b / "loss.tsv"));
}

TEST_F(TrainCli, BadInputIsAOneLineError) {
  const fs::path out = dir_ / "bad";
  CmdResult r = run_dsv4("train --config " + q(repo("configs/default.json")) + " --tokenizer " + q(tok_) + " --data " +
                         q(text_) + " --out " + q(out) + " --seq 1");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("dsv4 train:"), std::string::npos) << r.err;
  r = run_dsv4("train --config " + q(repo("configs/default.json")) + " --tokenizer " + q(dir_ / "none.json") +
               " --data " + q(text_) + " --out " + q(out));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("none.json"), std::string::npos) << r.err;
  std::ofstream(dir_ / "short.txt") << "In the beginning";
  r = run_dsv4("train --config " + q(repo("configs/default.json")) + " --tokenizer " + q(tok_) + " --data " +
               q(dir_ / "short.txt") + " --out " + q(out) + " --seq 64");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("needs at least"), std::string::npos) << r.err;
  // A damaged state file is refused on --resume (the checkpoint is not silently restarted).
  ASSERT_EQ(run_dsv4(train_cmd(out, 3)).rc, 0);
  {
    std::fstream f(out / "train_state.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    f.put('\x11');
  }
  r = run_dsv4(train_cmd(out, 6) + " --resume");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;
}

}  // namespace

// End to end: `dsv4 make-tokenizer / tokenize / detokenize`, and the parity run against the
// Hugging Face tokenizers engine (tests/js/tokenizer_parity.js; skipped only when tests/js has no
// node_modules, which scripts/test.sh always installs).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "cli_runner.h"

namespace {
namespace fs = std::filesystem;

using dsv4::testing_cli::CmdResult;
using dsv4::testing_cli::run_shell;
using dsv4::testing_cli::slurp;

fs::path temp_dir() {
  fs::path d = fs::path(testing::TempDir()) / ("dsv4_tokenizer_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}


const fs::path& made_tokenizer() {
  static const fs::path path = [] {
    fs::path p = temp_dir() / "made.tokenizer.json";
    CmdResult r = run_shell(std::string(DSV4_EXE) + " make-tokenizer --vocab-size 1024 --out '" + p.string() +
                                "' --corpus '" DSV4_SOURCE_DIR "/configs/tokenizer_corpus.txt'",
                            "");
    EXPECT_EQ(r.rc, 0) << r.err;
    return p;
  }();
  return path;
}

std::string tok_cmd(const char* sub, const std::string& extra = "") {
  return std::string(DSV4_EXE) + " " + sub + " --tokenizer '" + made_tokenizer().string() + "' " + extra;
}

TEST(TokenizerCli, TokenizeDetokenizeRoundTrip) {
  const std::string text = "<｜begin▁of▁sentence｜>The keeper wrote 12345 lines.\r\n你好 😀<｜end▁of▁sentence｜>";
  CmdResult t = run_shell(tok_cmd("tokenize"), text);
  ASSERT_EQ(t.rc, 0) << t.err;
  ASSERT_EQ(t.out.back(), '\n');
  EXPECT_EQ(t.out.rfind("0 ", 0), 0u);                                  // BOS is id 0
  EXPECT_EQ(t.out.substr(t.out.size() - 3), " 1\n");                    // EOS is id 1
  CmdResult d = run_shell(tok_cmd("detokenize"), t.out);
  ASSERT_EQ(d.rc, 0) << d.err;
  EXPECT_EQ(d.out, text);
  CmdResult s = run_shell(tok_cmd("detokenize", "--skip-special"), t.out);
  ASSERT_EQ(s.rc, 0) << s.err;
  EXPECT_EQ(s.out, "The keeper wrote 12345 lines.\r\n你好 😀");
}

TEST(TokenizerCli, JsonlModeOneLinePerDocument) {
  CmdResult t = run_shell(tok_cmd("tokenize", "--jsonl"), "\"a\\nb\"\n\"\"\n\"<think>\"\n");
  ASSERT_EQ(t.rc, 0) << t.err;
  EXPECT_EQ(std::count(t.out.begin(), t.out.end(), '\n'), 3);
  CmdResult d = run_shell(tok_cmd("detokenize", "--jsonl"), t.out);
  ASSERT_EQ(d.rc, 0) << d.err;
  EXPECT_EQ(d.out, "\"a\\nb\"\n\"\"\n\"<think>\"\n");
}

TEST(TokenizerCli, BadInputIsAOneLineError) {
  CmdResult bad_id = run_shell(tok_cmd("detokenize"), "5 1024 6");
  EXPECT_EQ(bad_id.rc, 1);
  EXPECT_NE(bad_id.err.find("1024"), std::string::npos) << bad_id.err;
  CmdResult not_number = run_shell(tok_cmd("detokenize"), "5 x7");
  EXPECT_EQ(not_number.rc, 1);
  EXPECT_NE(not_number.err.find("x7"), std::string::npos);
  CmdResult missing = run_shell(std::string(DSV4_EXE) + " tokenize --tokenizer /nonexistent.json", "hi");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("/nonexistent.json"), std::string::npos);
  CmdResult small = run_shell(std::string(DSV4_EXE) + " make-tokenizer --vocab-size 10 --out '" +
                                  (temp_dir() / "x.json").string() + "' --corpus '" DSV4_SOURCE_DIR "/configs/tokenizer_corpus.txt'",
                              "");
  EXPECT_EQ(small.rc, 1);
  EXPECT_FALSE(fs::exists(temp_dir() / "x.json"));
}

TEST(TokenizerCli, MakeTokenizerIsDeterministicAndTakesTheConfigVocabSize) {
  const fs::path again = temp_dir() / "again.tokenizer.json";
  CmdResult r = run_shell(std::string(DSV4_EXE) + " make-tokenizer --config '" DSV4_SOURCE_DIR "/configs/default.json' --out '" +
                              again.string() + "' --corpus '" DSV4_SOURCE_DIR "/configs/tokenizer_corpus.txt'",
                          "");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(slurp(again), slurp(made_tokenizer()));  // configs/default.json has vocab_size 1024
}

TEST(TokenizerParity, HuggingFaceEngineAgreesOnAMultiMegabyteCorpus) {
  const fs::path js = fs::path(DSV4_SOURCE_DIR) / "tests/js";
  if (!fs::exists(js / "node_modules/@anush008/tokenizers") || std::system("node --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "tests/js/node_modules or node missing: run `npm ci` in tests/js (scripts/test.sh does)";
  const fs::path work = fs::path(DSV4_BINARY_DIR) / "tokenizer_parity";
  CmdResult r = run_shell("node '" + (js / "tokenizer_parity.js").string() + "' --dsv4 '" DSV4_EXE "' --work '" +
                              work.string() + "' --source '" DSV4_SOURCE_DIR "'",
                          "");
  std::cout << r.out;
  if (r.rc == 77) GTEST_SKIP() << r.out;
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("tokenizer parity: all checks passed"), std::string::npos);
}

}  // namespace

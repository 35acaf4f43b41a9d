// End to end: `dsv4 perplexity` on the default model. Disjoint windows must give exactly what
// `dsv4 score` gives on the same windows, overlapping ones must still score every token once,
// a lossless GGUF must give the directory's numbers, and bad input must be a one-line error.
#include <cmath>
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
std::string model() { return repo("models/default"); }

struct Ppl {
  double ppl = NAN, nll = NAN;
  long tokens = -1;
  std::string last_line;
};

// The machine-readable last stdout line: perplexity=P tokens=N nll=M.
Ppl parse_ppl(const std::string& out) {
  Ppl p;
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  p.last_line = s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
  std::sscanf(p.last_line.c_str(), "perplexity=%lf tokens=%ld nll=%lf", &p.ppl, &p.tokens, &p.nll);
  return p;
}

// A fixed text of ~840 tokens (the default tokenizer's own corpus, so it tokenizes as real text).
struct Fixture {
  fs::path dir = scratch_dir();
  fs::path text = dir / "text.txt";
  std::vector<int> ids;
  Fixture() {
    const std::string corpus = slurp(repo("configs/tokenizer_corpus.txt"));
    std::ofstream(text, std::ios::binary) << corpus.substr(0, 2500);
    const CmdResult t = run_dsv4("tokenize --tokenizer '" + model() + "/tokenizer.json'", corpus.substr(0, 2500));
    std::stringstream ss(t.out);
    for (int id; ss >> id;) ids.push_back(id);
  }
  ~Fixture() { fs::remove_all(dir); }
  CmdResult ppl(const std::string& args, const std::string& m = model()) {
    return run_dsv4("perplexity -m '" + m + "' --text '" + text.string() + "' " + args);
  }
};

TEST(PerplexityCli, DisjointWindowsMatchScore) {
  Fixture f;
  ASSERT_GT(f.ids.size(), 500u);
  const long n = static_cast<long>(f.ids.size()), ctx = 128;
  const CmdResult r = f.ppl("--ctx 128");
  ASSERT_EQ(r.rc, 0) << r.err;
  const Ppl p = parse_ppl(r.out);
  EXPECT_EQ(p.tokens, n - 1) << r.out;
  EXPECT_NEAR(p.ppl, std::exp(p.nll), 1e-9 * p.ppl);
  // One progress line per window on stderr.
  const long windows = (n - 1 + ctx - 1) / ctx;
  EXPECT_NE(r.err.find("[" + std::to_string(windows) + "/" + std::to_string(windows) + "] " +
                       std::to_string(n - 1) + " tokens scored"),
            std::string::npos)
      << r.err;
  // Window k feeds ids[b, b+len) and predicts ids[b+1, b+len]: `score` on those len+1 ids.
  double sum = 0;
  long count = 0;
  for (long b = 0; b < n - 1; b += ctx) {
    const long len = std::min(ctx, n - 1 - b);
    std::string ids;
    for (long i = b; i <= b + len; ++i) ids += (ids.empty() ? "" : ",") + std::to_string(f.ids[i]);
    const CmdResult s = run_dsv4("score -m '" + model() + "' --tokens " + ids);
    ASSERT_EQ(s.rc, 0) << s.err;
    double mean = NAN;
    ASSERT_EQ(std::sscanf(s.out.substr(s.out.find("mean nll")).c_str(), "mean nll %lf", &mean), 1) << s.out;
    sum += mean * len;
    count += len;
  }
  EXPECT_EQ(count, n - 1);
  EXPECT_NEAR(p.nll, sum / count, 1e-6 * p.nll);  // score prints 6 decimals
  // The forward chunking changes nothing.
  EXPECT_EQ(parse_ppl(f.ppl("--ctx 128 --chunk 7").out).last_line, p.last_line);
}

TEST(PerplexityCli, OverlappingWindowsScoreEveryTokenOnce) {
  Fixture f;
  const long n = static_cast<long>(f.ids.size());
  const Ppl disjoint = parse_ppl(f.ppl("--ctx 128").out);
  const CmdResult r = f.ppl("--ctx 128 --stride 48");  // 48 does not divide: a short last window
  ASSERT_EQ(r.rc, 0) << r.err;
  const Ppl p = parse_ppl(r.out);
  EXPECT_EQ(p.tokens, n - 1) << r.out;
  EXPECT_TRUE(std::isfinite(p.ppl) && p.ppl > 1) << r.out;
  EXPECT_NE(p.nll, disjoint.nll);  // more context for all but the first window's tokens
  EXPECT_NEAR(p.nll, disjoint.nll, 0.5);
  // A --ctx beyond the text is capped to one window: every stride gives the same numbers.
  const Ppl whole = parse_ppl(f.ppl("--ctx 100000").out);
  EXPECT_EQ(whole.tokens, n - 1);
  EXPECT_EQ(parse_ppl(f.ppl("--ctx 100000 --stride 10").out).last_line, whole.last_line);
}

TEST(PerplexityCli, LosslessGgufEqualsDirectory) {
  Fixture f;
  const std::string gguf = (f.dir / "d.gguf").string();
  const CmdResult c = run_dsv4("convert -m '" + model() + "' --out '" + gguf + "' --type bf16");
  ASSERT_EQ(c.rc, 0) << c.err;
  const CmdResult a = f.ppl("--ctx 96 --stride 64"), b = f.ppl("--ctx 96 --stride 64", gguf);
  ASSERT_EQ(a.rc, 0) << a.err;
  ASSERT_EQ(b.rc, 0) << b.err;
  const Ppl pa = parse_ppl(a.out), pb = parse_ppl(b.out);
  EXPECT_EQ(pa.tokens, pb.tokens);
  EXPECT_NEAR(pa.nll, pb.nll, 1e-9 * pa.nll);
  EXPECT_EQ(pa.last_line, pb.last_line);  // bitwise the same logits, so the same digits
}

void expect_error(const CmdResult& r, const std::string& what) {
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_EQ(r.err.rfind("dsv4 perplexity: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_EQ(r.out.find("perplexity="), std::string::npos) << r.out;
}

TEST(PerplexityCli, Errors) {
  Fixture f;
  const std::string m = "perplexity -m '" + model() + "' --text ";
  const std::string text = "'" + f.text.string() + "'";
  expect_error(run_dsv4(m + "'" + (f.dir / "missing.txt").string() + "'"), "cannot open");
  expect_error(run_dsv4(m + "'" + f.dir.string() + "'"), "is a directory");
  std::ofstream(f.dir / "empty.txt");
  expect_error(run_dsv4(m + "'" + (f.dir / "empty.txt").string() + "'"), "empty");
  std::ofstream(f.dir / "one.txt") << "a";
  expect_error(run_dsv4(m + "'" + (f.dir / "one.txt").string() + "'"), "at least 2");
  expect_error(run_dsv4(m + text + " --ctx 1"), "--ctx must be at least 2");
  expect_error(run_dsv4(m + text + " --ctx 64 --stride 0"), "--stride must be between 1 and --ctx");
  expect_error(run_dsv4(m + text + " --ctx 64 --stride 65"), "--stride must be between 1 and --ctx");
  expect_error(run_dsv4(m + text + " --ctx 2000000"), "max_position_embeddings");
  const std::string tiny = std::string(DSV4_SHARED_DIR) + "/golden/tiny-flash/checkpoint";
  if (fs::exists(tiny)) expect_error(run_dsv4("perplexity -m '" + tiny + "' --text " + text), "no tokenizer");
}

}  // namespace

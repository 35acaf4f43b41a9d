// `dsv4 run -p` (single-turn chat, streamed, speed line) and `dsv4 chat` (state kept between
// turns: turn 2 prefills only its new tokens) on the built-in default model.
#include <regex>

#include "cli_runner.h"

namespace dsv4::testing_cli {
namespace {

std::string model_arg() { return std::string("-m '") + DSV4_SOURCE_DIR + "/models/default'"; }

TEST(RunCli, ChatPromptStreamsAndReportsSpeed) {
  CmdResult r = run_dsv4("run " + model_arg() + " -p 'Hello there' -n 8 --temp 0");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("tokens: "), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("prefill: [0-9]+ tokens .*decode: [0-9]+ tokens .*mtp: drafted [0-9]+")))
      << r.out;
  // Greedy output does not depend on MTP speculation.
  CmdResult plain = run_dsv4("run " + model_arg() + " -p 'Hello there' -n 8 --temp 0 --no-mtp");
  ASSERT_EQ(plain.rc, 0) << plain.err;
  auto ids = [](const std::string& s) {
    std::smatch m;
    return std::regex_search(s, m, std::regex("tokens: ([0-9,]*)")) ? m[1].str() : std::string("?");
  };
  EXPECT_EQ(ids(r.out), ids(plain.out));
  EXPECT_NE(plain.out.find("mtp: off"), std::string::npos);
  CmdResult bad = run_dsv4("run " + model_arg() + " -p hi --mode poetry");
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("--mode"), std::string::npos) << bad.err;
}

struct Turn {
  long prompt = 0, cached = 0, prefilled = 0, generated = 0;
};

std::vector<Turn> turns(const std::string& out) {
  std::vector<Turn> t;
  const std::regex re("\\[turn [0-9]+: prompt ([0-9]+) tokens, ([0-9]+) cached, ([0-9]+) prefilled, ([0-9]+) generated");
  for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it)
    t.push_back({std::stol((*it)[1]), std::stol((*it)[2]), std::stol((*it)[3]), std::stol((*it)[4])});
  return t;
}

TEST(ChatCli, SecondTurnPrefillsOnlyNewTokens) {
  CmdResult r = run_dsv4("chat " + model_arg() + " -n 6 --seed 3", "hello\nhow are you?\n/reset\nagain\n/quit\n");
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto t = turns(r.out);
  ASSERT_EQ(t.size(), 3u) << r.out;
  EXPECT_EQ(t[0].cached, 0);
  EXPECT_EQ(t[0].prefilled, t[0].prompt);
  // Turn 2 starts from turn 1's state: everything but turn 1's last token is cached.
  EXPECT_EQ(t[1].cached, t[0].prompt + t[0].generated - 1) << r.out;
  EXPECT_EQ(t[1].prefilled, t[1].prompt - t[1].cached);
  EXPECT_LT(t[1].prefilled, t[1].prompt / 2 + 8);
  // After /reset nothing is cached.
  EXPECT_EQ(t[2].cached, 0);
  EXPECT_NE(r.out.find("[conversation cleared]"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::testing_cli

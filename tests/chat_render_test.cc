// End to end: `dsv4 render` reproduces the official V4 chat-encoding fixtures byte for byte and
// rejects bad input with one line; `dsv4 parse-completion` turns model output back into fields.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"

namespace {
namespace fs = std::filesystem;

using Ran = dsv4::testing_cli::CmdResult;
using dsv4::testing_cli::slurp;

fs::path temp_path(const std::string& name) {
  return fs::path(testing::TempDir()) / ("chat_" + std::to_string(::getpid()) + "_" + name);
}

Ran dsv4(const std::string& args) { return dsv4::testing_cli::run_dsv4(args); }

fs::path write_temp(const std::string& name, const std::string& text) {
  const fs::path p = temp_path(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string encoding(const std::string& file) { return std::string(DSV4_SHARED_DIR) + "/golden/encoding/" + file; }

TEST(ChatRenderCli, OfficialFixturesByteExact) {
  const char* modes[] = {"thinking", "thinking", "thinking", "chat"};  // golden/encoding/README.md
  for (int i = 1; i <= 4; ++i) {
    SCOPED_TRACE(i);
    const Ran r = dsv4("render --mode " + std::string(modes[i - 1]) + " --input '" +
                       encoding("test_input_" + std::to_string(i) + ".json") + "'");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, slurp(encoding("test_output_" + std::to_string(i) + ".txt")));  // no trailing newline
  }
}

TEST(ChatRenderCli, OptionsChangeTheOutput) {
  const fs::path in = write_temp("opts.json", R"([{"role":"user","content":"Q1"},{"role":"assistant","reasoning_content":"R","content":"A"},{"role":"user","content":"Q2"}])");
  const Ran dflt = dsv4("render --input '" + in.string() + "'");
  ASSERT_EQ(dflt.rc, 0) << dflt.err;
  EXPECT_EQ(dflt.out.find("<think>R</think>"), std::string::npos);
  const Ran keep = dsv4("render --keep-thinking --input '" + in.string() + "'");
  EXPECT_NE(keep.out.find("<think>R</think>"), std::string::npos);
  const Ran max = dsv4("render --reasoning-effort max --input '" + in.string() + "'");
  EXPECT_EQ(max.out.find("<｜begin▁of▁sentence｜>Reasoning Effort: Absolute maximum"), 0u);
  const Ran chat = dsv4("render --mode chat --input '" + in.string() + "'");
  EXPECT_EQ(chat.out.substr(chat.out.size() - 8), "</think>");
  fs::remove(in);
}

TEST(ChatRenderCli, RejectsBadInputWithOneLine) {
  struct Case {
    std::string json, flags, needle;
  };
  const Case cases[] = {
      {R"([{"role":"user","content":"Q"}])", "--reasoning-effort extreme", "reasoning effort 'extreme'"},
      {R"([{"role":"user","content":"Q","task":"summarize"}])", "", "unknown task 'summarize'"},
      {R"([{"role":"wizard","content":"Q"}])", "", "unknown role 'wizard'"},
      {R"([{"role":"developer"}])", "", "developer message needs non-empty content"},
      {R"({"messages": 3})", "", "'messages' list"},
      {"[{\"role\":", "", "invalid JSON"},
      {R"([{"role":"user","content":"Q"}])", "--mode fast", "unknown mode 'fast'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json + " " + c.flags);
    const fs::path in = write_temp("bad.json", c.json);
    const Ran r = dsv4("render " + c.flags + " --input '" + in.string() + "'");
    EXPECT_NE(r.rc, 0);
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("dsv4 render: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
    fs::remove(in);
  }
  EXPECT_NE(dsv4("render --input /nonexistent/x.json").rc, 0);
}

TEST(ParseCompletionCli, FixtureTurnParsesInChunks) {
  // The first assistant turn of fixture 1 as the model would generate it after "<think>".
  const std::string out = slurp(encoding("test_output_1.txt"));
  const std::string head = "<｜Assistant｜><think>";
  const std::size_t start = out.find(head) + head.size();
  const std::string eos = "<｜end▁of▁sentence｜>";
  const fs::path in = write_temp("turn.txt", out.substr(start, out.find(eos, start) + eos.size() - start));
  for (const char* chunk : {"0", "1", "7"}) {
    SCOPED_TRACE(chunk);
    const Ran r = dsv4(std::string("parse-completion --mode thinking --chunk ") + chunk + " --input '" + in.string() + "'");
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["reasoning_content"], "The user wants to know the weather in Beijing. I should use the get_weather tool.");
    EXPECT_EQ(j["content"], "");
    ASSERT_EQ(j["tool_calls"].size(), 1u);
    EXPECT_EQ(j["tool_calls"][0]["function"]["name"], "get_weather");
    EXPECT_EQ(j["tool_calls"][0]["function"]["arguments"], R"({"location": "Beijing", "unit": "celsius"})");
    EXPECT_EQ(j["finished"], true);
  }
  fs::remove(in);
}

TEST(ParseCompletionCli, ReportsMalformedOutputAndStreamsEvents) {
  const fs::path in = write_temp("bad.txt", "r</think>text<｜end▁of▁sentence｜>junk");
  const Ran r = dsv4("parse-completion --events --input '" + in.string() + "'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("text after the end-of-sentence token"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find(R"({"reasoning_delta":"r"})"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"({"content_delta":"text"})"), std::string::npos) << r.out;
  fs::remove(in);
}

}  // namespace

#include "chat/completion_parser.h"

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/chat_encoder.h"
#include "chat/special_tokens.h"

namespace dsv4::chat {
namespace {

const std::string E(kEos);
const std::string D(kDsml);

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string invoke(const std::string& name, const std::vector<std::tuple<std::string, bool, std::string>>& params) {
  std::string s = "<" + D + "invoke name=\"" + name + "\">\n";
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [k, str, v] = params[i];
    if (i) s += "\n";
    s += "<" + D + "parameter name=\"" + k + "\" string=\"" + (str ? "true" : "false") + "\">" + v + "</" + D + "parameter>";
  }
  return s + "\n</" + D + "invoke>";
}
std::string block(const std::string& invokes) { return "\n\n<" + D + "tool_calls>\n" + invokes + "\n</" + D + "tool_calls>"; }

struct Run {
  ParseResult result;
  std::vector<ParseEvent> events;  // adjacent text deltas joined
};

void add_event(std::vector<ParseEvent>& out, const ParseEvent& e) {
  const bool text = e.kind == ParseEventKind::kReasoningDelta || e.kind == ParseEventKind::kContentDelta;
  if (text && !out.empty() && out.back().kind == e.kind)
    out.back().text += e.text;
  else
    out.push_back(e);
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Feeds `text` cut at `cuts`; checks on the way that the streamed reasoning/content is always a
// prefix of `final_ref` (nothing emitted is later taken back) and that deltas are whole UTF-8.
Run parse(bool thinking, std::string_view text, const std::vector<std::size_t>& cuts = {}, const ParseResult* final_ref = nullptr) {
  CompletionParser p(thinking);
  Run run;
  std::string reasoning, content;
  auto take = [&](const std::vector<ParseEvent>& evs) {
    for (const auto& e : evs) {
      if (e.kind == ParseEventKind::kReasoningDelta) reasoning += e.text;
      if (e.kind == ParseEventKind::kContentDelta) content += e.text;
      if (e.kind == ParseEventKind::kReasoningDelta || e.kind == ParseEventKind::kContentDelta) {
        EXPECT_FALSE(e.text.empty());
        if (valid_utf8(text)) {
          EXPECT_TRUE(valid_utf8(e.text)) << "delta splits a UTF-8 character";
        }
      }
      add_event(run.events, e);
    }
    if (final_ref) {
      EXPECT_EQ(final_ref->reasoning_content.compare(0, reasoning.size(), reasoning), 0) << "reasoning retracted";
      EXPECT_EQ(final_ref->content.compare(0, content.size(), content), 0) << "content retracted: " << content;
    }
  };
  std::size_t at = 0;
  for (std::size_t c : cuts) {
    take(p.feed(text.substr(at, c - at)));
    at = c;
  }
  take(p.feed(text.substr(at)));
  run.result = p.finish();
  take(run.result.events);
  return run;
}

void expect_same(const Run& a, const Run& b) {
  EXPECT_EQ(a.result.reasoning_content, b.result.reasoning_content);
  EXPECT_EQ(a.result.content, b.result.content);
  EXPECT_EQ(a.result.tool_calls, b.result.tool_calls);
  EXPECT_EQ(a.result.saw_eos, b.result.saw_eos);
  EXPECT_EQ(a.result.reasoning_closed, b.result.reasoning_closed);
  EXPECT_EQ(a.result.tool_calls_in_reasoning, b.result.tool_calls_in_reasoning);
  EXPECT_EQ(a.result.truncated, b.result.truncated);
  EXPECT_EQ(a.result.unparsed, b.result.unparsed);
  EXPECT_EQ(a.result.errors, b.result.errors);
  EXPECT_EQ(a.result.incomplete_tool_call.has_value(), b.result.incomplete_tool_call.has_value());
  EXPECT_EQ(a.events, b.events);
}

// Every split into two pieces, and byte by byte, must agree with the whole-input parse.
void check_all_splits(bool thinking, const std::string& text) {
  const Run whole = parse(thinking, text);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    expect_same(whole, parse(thinking, text, {cut}, &whole.result));
    if (::testing::Test::HasFailure()) return;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < text.size(); ++i) every.push_back(i);
  expect_same(whole, parse(thinking, text, every, &whole.result));
}

TEST(CompletionParser, ParsesFixtureAssistantTurnsBackToInputFields) {
  const std::string dir = std::string(DSV4_SHARED_DIR) + "/golden/encoding/";
  for (int i : {1, 2}) {
    SCOPED_TRACE("fixture " + std::to_string(i));
    const std::string out = read_file(dir + "test_output_" + std::to_string(i) + ".txt");
    auto in = nlohmann::json::parse(read_file(dir + "test_input_" + std::to_string(i) + ".json"));
    const auto& messages = in.is_object() ? in["messages"] : in;
    std::vector<nlohmann::json> assistants;
    for (const auto& m : messages)
      if (m["role"] == "assistant") assistants.push_back(m);
    // Each assistant turn starts after "<｜Assistant｜>" + "<think>" (thinking) or "</think>".
    std::size_t pos = 0, k = 0;
    while ((pos = out.find(kAssistant, pos)) != std::string::npos) {
      pos += kAssistant.size();
      const bool thinking = out.compare(pos, kThinkStart.size(), kThinkStart) == 0;
      pos += thinking ? kThinkStart.size() : kThinkEnd.size();
      const std::size_t end = out.find(E, pos) + E.size();
      ASSERT_LT(k, assistants.size());
      const auto& want = assistants[k++];
      ParseResult r = parse(thinking, out.substr(pos, end - pos)).result;
      EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "truncated" : r.errors[0]);
      EXPECT_TRUE(r.saw_eos);
      EXPECT_EQ(r.content, want.value("content", ""));
      // Reasoning of turns before the last user turn was dropped from the prompt.
      if (thinking) {
        EXPECT_EQ(r.reasoning_content, want.value("reasoning_content", ""));
      }
      const auto calls = want.value("tool_calls", nlohmann::json::array());
      ASSERT_EQ(r.tool_calls.size(), calls.size());
      for (std::size_t c = 0; c < calls.size(); ++c) {
        EXPECT_EQ(r.tool_calls[c].name, calls[c]["function"]["name"]);
        EXPECT_EQ(r.tool_calls[c].arguments, calls[c]["function"]["arguments"]);
      }
    }
    EXPECT_EQ(k, assistants.size());
  }
}

TEST(CompletionParser, StringFalseValuesAreJsonAndStringsAreQuoted) {
  const std::string text = "C" + block(invoke("f", {{"s", true, "a \"q\"\n北"}, {"n", false, "42"}, {"o", false, "{\"k\": [1, 2.5]}"}}) +
                                       "\n" + invoke("g", {})) + E;
  ParseResult r = parse(false, text).result;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.content, "C");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"s": "a \"q\"\n北", "n": 42, "o": {"k": [1, 2.5]}})");
  EXPECT_EQ(r.tool_calls[1].name, "g");
  EXPECT_EQ(r.tool_calls[1].arguments, "{}");
}

TEST(CompletionParser, RenderThenParseRoundTrips) {
  const char* args = R"({"path": "a/b.txt", "n": 3, "x": 1e-05, "flags": [true, null], "text": "line1\nline2 <tag>"})";
  nlohmann::json conv = nlohmann::json::array(
      {{{"role", "user"}, {"content", "Q"}},
       {{"role", "assistant"}, {"reasoning_content", "think"}, {"content", "sure"},
        {"tool_calls", {{{"type", "function"}, {"function", {{"name", "write"}, {"arguments", args}}}}}}}});
  auto prompt = render_chat_json(conv.dump(), ChatOptions{});
  ASSERT_TRUE(prompt.ok()) << prompt.message();
  const std::string head = std::string(kAssistant) + std::string(kThinkStart);
  const std::string turn = prompt->substr(prompt->find(head) + head.size());
  ParseResult r = parse(true, turn).result;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.reasoning_content, "think");
  EXPECT_EQ(r.content, "sure");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, args);
}

TEST(CompletionParser, EverySplitPointAgreesWithWholeInput) {
  const std::string calls = block(invoke("get_weather", {{"location", true, "北京 😀"}, {"unit", false, "[1, \"c\"]"}}) + "\n" + invoke("g", {}));
  check_all_splits(true, "推理 < </thi 😀 done</think>答案 <｜end" + calls + E);
  check_all_splits(false, "Hi \n\n<｜DS not markup\n\n" + calls + E);
  check_all_splits(true, "unclosed think then call" + calls + E);
  check_all_splits(false, "truncated" + block(invoke("f", {{"a", true, "1"}})).substr(0, 120));
  check_all_splits(false, "bad" + block("<" + D + "invoke nam=\"f\">\n</" + D + "invoke>") + E + "after");
  check_all_splits(true, "r</think>c\n<" + D + "tool_calls>\n" + invoke("f", {{"x", false, "oops"}}) + "\n</" + D + "tool_calls>" + E);
}

TEST(CompletionParser, ToolCallInsideUnclosedThinkIsReturnedAsToolCall) {
  ParseResult r = parse(true, "I will look it up" + block(invoke("search", {{"q", true, "x"}})) + E).result;
  EXPECT_EQ(r.reasoning_content, "I will look it up");
  EXPECT_FALSE(r.reasoning_closed);
  EXPECT_TRUE(r.tool_calls_in_reasoning);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"q": "x"})");
  EXPECT_TRUE(r.ok());
}

TEST(CompletionParser, TruncatedOutputKeepsCompleteInvokesAndFlagsTheRest) {
  const std::string text = "ok" + block(invoke("f", {{"a", true, "1"}}) + "\n" + invoke("g", {{"b", false, "2"}, {"c", true, "three"}}));
  const std::size_t cut = text.find("three");
  ParseResult r = parse(false, text.substr(0, cut)).result;
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.saw_eos);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].name, "f");
  ASSERT_TRUE(r.incomplete_tool_call.has_value());
  EXPECT_EQ(r.incomplete_tool_call->name, "g");
  ASSERT_EQ(r.incomplete_tool_call->params.size(), 1u);
  EXPECT_EQ(r.incomplete_tool_call->params[0].value, "2");
  // Stopping in the middle of the DSML start marker is truncation too, not content.
  ParseResult m = parse(false, "answer\n\n<" + D + "tool").result;
  EXPECT_EQ(m.content, "answer");
  EXPECT_TRUE(m.truncated);
  // Reasoning cut short.
  EXPECT_TRUE(parse(true, "still thinking").result.truncated);
  // Plain content without the end token is complete (the engine may strip it).
  ParseResult c = parse(false, "done, a < b").result;
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.content, "done, a < b");
}

TEST(CompletionParser, MalformedDsmlIsReportedNotLeaked) {
  ParseResult r = parse(false, "x" + block(invoke("f", {{"a", true, "1"}}) + "\n<" + D + "invoke name=\"g\">\n<" + D +
                                                "parameter name=\"b\">1</" + D + "parameter>\n</" + D + "invoke>") + E).result;
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.content, "x");
  EXPECT_FALSE(r.errors.empty());
  EXPECT_NE(r.unparsed.find("parameter name=\"b\""), std::string::npos);
  EXPECT_TRUE(r.saw_eos);

  ParseResult dup = parse(false, block(invoke("f", {{"a", true, "1"}, {"a", true, "2"}})) + E).result;
  EXPECT_TRUE(dup.tool_calls.empty());
  EXPECT_NE(dup.errors[0].find("duplicate parameter 'a'"), std::string::npos);

  ParseResult notjson = parse(false, block(invoke("f", {{"a", false, "nope"}})) + E).result;
  ASSERT_EQ(notjson.tool_calls.size(), 1u);
  EXPECT_EQ(notjson.tool_calls[0].arguments, R"({"a": "nope"})");
  EXPECT_FALSE(notjson.errors.empty());
}

TEST(CompletionParser, FormatChecksOfTheOfficialParser) {
  ParseResult after = parse(false, "a" + E + "b").result;
  EXPECT_EQ(after.content, "a");
  EXPECT_FALSE(after.ok());
  ParseResult noclose = parse(true, "r" + E).result;
  EXPECT_FALSE(noclose.reasoning_closed);
  EXPECT_FALSE(noclose.ok());
  ParseResult special = parse(true, "r</think>a<think>b" + E).result;
  EXPECT_EQ(special.content, "a<think>b");
  EXPECT_FALSE(special.ok());
  ParseResult trailing = parse(false, block(invoke("f", {})) + "extra" + E).result;
  EXPECT_EQ(trailing.tool_calls.size(), 1u);
  EXPECT_FALSE(trailing.ok());
}

TEST(CompletionParser, LenientStartMarkerWithoutBlankLine) {
  ParseResult r = parse(false, "see:\n<" + D + "tool_calls>\n" + invoke("f", {}) + "\n</" + D + "tool_calls>" + E).result;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.content, "see:\n");
  EXPECT_EQ(r.tool_calls.size(), 1u);
}

TEST(CompletionParser, LongValueFedByteByByteStaysLinear) {
  std::string big(200000, 'x');
  const std::string text = block(invoke("w", {{"data", true, big}})) + E;
  CompletionParser p(false);
  for (char c : text) p.feed(std::string_view(&c, 1));
  ParseResult r = p.finish();
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].arguments.size(), big.size() + 12);
}

TEST(CompletionParser, ArgumentDeltasConcatenateToTheArguments) {
  const std::string out =
      "Checking.\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"get\">\n"
      "<｜DSML｜parameter name=\"city\" string=\"true\">Paris</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"days\" string=\"false\">3</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"opts\" string=\"false\">{\"a\": [1, 2]}</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls><｜end▁of▁sentence｜>";
  for (size_t piece : {size_t(1), size_t(7), out.size()}) {
    CompletionParser p(false, true);
    std::vector<ParseEvent> ev;
    for (size_t i = 0; i < out.size(); i += piece) {
      auto e = p.feed(out.substr(i, piece));
      ev.insert(ev.end(), e.begin(), e.end());
    }
    ParseResult r = p.finish();
    ev.insert(ev.end(), r.events.begin(), r.events.end());
    ASSERT_EQ(r.tool_calls.size(), 1u);
    std::string streamed;
    int deltas = 0;
    for (const auto& e : ev)
      if (e.kind == ParseEventKind::kToolCallArgumentsDelta) {
        EXPECT_EQ(e.tool_index, 0);
        streamed += e.arguments;
        ++deltas;
      }
    EXPECT_EQ(deltas, 3);
    EXPECT_EQ(streamed + "}", r.tool_calls[0].arguments);
    EXPECT_EQ(nlohmann::json::parse(r.tool_calls[0].arguments)["opts"]["a"][1], 2);
  }
  // Off by default: the event list is unchanged for existing callers.
  CompletionParser q(false);
  for (const auto& e : q.feed(out)) EXPECT_NE(e.kind, ParseEventKind::kToolCallArgumentsDelta);
}

}  // namespace
}  // namespace dsv4::chat

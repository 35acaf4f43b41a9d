#include "chat/chat_encoder.h"

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "chat/special_tokens.h"

namespace dsv4::chat {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string fixture(const std::string& name) { return read_file(std::string(DSV4_SHARED_DIR) + "/golden/encoding/" + name); }

std::string render(std::string_view json, bool thinking, std::optional<std::string> effort = std::nullopt, bool drop = true) {
  ChatOptions o;
  o.thinking = thinking;
  o.reasoning_effort = std::move(effort);
  o.drop_thinking = drop;
  auto r = render_chat_json(json, o);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? *r : "";
}

std::string render_error(std::string_view json, bool thinking = true, std::optional<std::string> effort = std::nullopt) {
  ChatOptions o;
  o.thinking = thinking;
  o.reasoning_effort = std::move(effort);
  auto r = render_chat_json(json, o);
  EXPECT_FALSE(r.ok()) << "rendered: " << (r.ok() ? *r : "");
  return r.ok() ? "" : r.message();
}

const std::string B(kBos), E(kEos), U(kUser), A(kAssistant);

// The official fixtures (README: cases 1-3 thinking, case 4 chat), byte for byte.
TEST(ChatEncoder, OfficialFixturesByteExact) {
  const bool thinking[] = {true, true, true, false};
  for (int i = 1; i <= 4; ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    const std::string expected = fixture("test_output_" + std::to_string(i) + ".txt");
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(render(fixture("test_input_" + std::to_string(i) + ".json"), thinking[i - 1]), expected);
  }
}

TEST(ChatEncoder, ChatModeExample) {
  EXPECT_EQ(render(R"([{"role":"system","content":"SYS"},{"role":"user","content":"Q"},{"role":"assistant","content":"ANSWER"}])", false),
            B + "SYS" + U + "Q" + A + "</think>ANSWER" + E);
}

TEST(ChatEncoder, GenerationPromptAfterLastUser) {
  const char* j = R"([{"role":"user","content":"Q"}])";
  EXPECT_EQ(render(j, true), B + U + "Q" + A + "<think>");
  EXPECT_EQ(render(j, false), B + U + "Q" + A + "</think>");
  EXPECT_EQ(render("[]", true), B);
}

TEST(ChatEncoder, ReasoningEffortMaxPreamble) {
  const char* j = R"([{"role":"system","content":"S"},{"role":"user","content":"Q"}])";
  const std::string max = render(j, true, "max");
  const std::string preamble = "Reasoning Effort: Absolute maximum with no shortcuts permitted.\n";
  ASSERT_EQ(max.rfind(B + preamble, 0), 0u);
  EXPECT_NE(max.find("rejected hypothesis to ensure absolutely no assumption is left unchecked.\n\nS" + U), std::string::npos);
  EXPECT_EQ(render(j, true, "high"), render(j, true));    // high renders like none
  EXPECT_EQ(render(j, false, "max"), render(j, false));   // only in thinking mode
  EXPECT_NE(render_error(j, true, "low").find("reasoning effort 'low'"), std::string::npos);
}

TEST(ChatEncoder, DropThinkingRemovesOldReasoningAndDeveloperTurns) {
  const char* j = R"([{"role":"user","content":"Q1"},{"role":"assistant","reasoning_content":"R1","content":"A1"},
    {"role":"developer","content":"D"},{"role":"assistant","reasoning_content":"R2","content":"A2"},
    {"role":"user","content":"Q2"},{"role":"assistant","reasoning_content":"R3","content":"A3"}])";
  EXPECT_EQ(render(j, true), B + U + "Q1" + A + "</think>A1" + E + "A2" + E + U + "Q2" + A + "<think>R3</think>A3" + E);
  // drop_thinking off: every reasoning kept, every user turn opens <think>.
  EXPECT_EQ(render(j, true, std::nullopt, false),
            B + U + "Q1" + A + "<think>R1</think>A1" + E + U + "D" + A + "<think>R2</think>A2" + E + U + "Q2" + A +
                "<think>R3</think>A3" + E);
  // Chat mode never renders reasoning.
  EXPECT_EQ(render(j, false), B + U + "Q1" + A + "</think>A1" + E + U + "D" + A + "</think>A2" + E + U + "Q2" + A + "</think>A3" + E);
}

TEST(ChatEncoder, ToolsAnywhereDisableDropThinking) {
  const char* j = R"([{"role":"system","content":"S","tools":[{"type":"function","function":{"name":"f"}}]},
    {"role":"user","content":"Q1"},{"role":"assistant","reasoning_content":"R1","content":"A1"},{"role":"user","content":"Q2"}])";
  const std::string out = render(j, true);
  EXPECT_NE(out.find(U + "Q1" + A + "<think>R1</think>A1" + E + U + "Q2" + A + "<think>"), std::string::npos);
  EXPECT_NE(out.find("### Available Tool Schemas\n\n{\"name\": \"f\"}\n\nYou MUST strictly follow"), std::string::npos);
  // Empty tools lists are falsy: drop_thinking stays on and no tools block.
  const std::string empty = render(R"([{"role":"system","content":"S","tools":[]},{"role":"user","content":"Q1"},
    {"role":"assistant","reasoning_content":"R1","content":"A1"},{"role":"user","content":"Q2"}])", true);
  EXPECT_EQ(empty, B + "S" + U + "Q1" + A + "</think>A1" + E + U + "Q2" + A + "<think>");
}

TEST(ChatEncoder, UserToolsAreIgnoredLikeOfficial) {
  // merge_tool_messages() rebuilds user turns without their tools.
  EXPECT_EQ(render(R"([{"role":"user","content":"Q","tools":[{"type":"function","function":{"name":"f"}}]}])", true),
            B + U + "Q" + A + "<think>");
}

TEST(ChatEncoder, ResponseFormatOnSystemAndDeveloper) {
  const std::string rf = "\n\n## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";
  EXPECT_EQ(render(R"([{"role":"system","content":"S","response_format":{"type":"json_object","x":1.0}}])", false),
            B + "S" + rf + R"({"type": "json_object", "x": 1.0})");
  EXPECT_EQ(render(R"([{"role":"developer","content":"D","response_format":{"a":[1e-5]}}])", true),
            B + U + "D" + rf + R"({"a": [1e-05]})" + A + "<think>");
}

TEST(ChatEncoder, LatestReminderAndTransitions) {
  // A user turn followed by latest_reminder gets the transition; followed by system it does not.
  EXPECT_EQ(render(R"([{"role":"user","content":"Q"},{"role":"latest_reminder","content":"L"}])", false),
            B + U + "Q" + A + "</think><｜latest_reminder｜>L");
  EXPECT_EQ(render(R"([{"role":"user","content":"Q"},{"role":"system","content":"S"}])", false), B + U + "Q" + "S");
}

TEST(ChatEncoder, ToolResultsMergeAndFollowCallOrder) {
  const char* j = R"([{"role":"user","content":"Q"},
    {"role":"assistant","content":"","tool_calls":[
      {"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\": 1}"}},
      {"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"b","content":"RB"},
    {"role":"tool","tool_call_id":"a","content":"RA"},
    {"role":"user","content":"more"}])";
  const std::string out = render(j, false);
  EXPECT_EQ(out.substr(out.find(E) + E.size()),
            U + "<tool_result>RA</tool_result>\n\n<tool_result>RB</tool_result>\n\nmore" + A + "</think>");
  EXPECT_NE(out.find("<｜DSML｜invoke name=\"g\">\n\n</｜DSML｜invoke>"), std::string::npos);  // no parameters
}

TEST(ChatEncoder, ToolContentBlocksAreFlattened) {
  const std::string out = render(R"([{"role":"tool","content":[{"type":"text","text":"a"},{"type":"image"},{"type":"text","text":"b"}]}])", false);
  EXPECT_EQ(out, B + U + "<tool_result>a\n\n[Unsupported image]\n\nb</tool_result>" + A + "</think>");
}

TEST(ChatEncoder, ConsecutiveUserMessagesMerge) {
  EXPECT_EQ(render(R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])", true), B + U + "a\n\nb" + A + "<think>");
}

TEST(ChatEncoder, DsmlArgumentsReserializedLikePythonJsonDumps) {
  const char* j = R"([{"role":"user","content":"Q"},{"role":"assistant","content":"C","tool_calls":[
    {"type":"function","function":{"name":"f","arguments":"{\"s\":\"x\\\"y\",\"i\":10,\"f\":1.0,\"e\":1e-5,\"b\":true,\"n\":null,\"a\":[1,{\"k\":\"北\"}],\"big\":123456789012345678901234567890}"}}]}])";
  const std::string out = render(j, false);
  const std::string expected =
      "C\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"f\">\n"
      "<｜DSML｜parameter name=\"s\" string=\"true\">x\"y</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"i\" string=\"false\">10</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"f\" string=\"false\">1.0</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"e\" string=\"false\">1e-05</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"b\" string=\"false\">true</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"n\" string=\"false\">null</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"a\" string=\"false\">[1, {\"k\": \"北\"}]</｜DSML｜parameter>\n"
      "<｜DSML｜parameter name=\"big\" string=\"false\">123456789012345678901234567890</｜DSML｜parameter>\n"
      "</｜DSML｜invoke>\n</｜DSML｜tool_calls>" + E;
  EXPECT_EQ(out.substr(out.find("</think>") + 8), expected);
}

TEST(ChatEncoder, NonJsonArgumentsBecomeOneStringParameter) {
  const std::string out = render(R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"not json"}}]}])", false);
  EXPECT_NE(out.find("<｜DSML｜parameter name=\"arguments\" string=\"true\">not json</｜DSML｜parameter>"), std::string::npos);
  // A non-string arguments value cannot be json.loads-ed either: one non-string parameter.
  const std::string obj = render(R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":{"a":1}}}]}])", false);
  EXPECT_NE(obj.find("<｜DSML｜parameter name=\"arguments\" string=\"false\">{\"a\": 1}</｜DSML｜parameter>"), std::string::npos);
  EXPECT_NE(render_error(R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"[1]"}}]}])")
                .find("must be a JSON object"),
            std::string::npos);
}

TEST(ChatEncoder, QuickInstructionTasks) {
  EXPECT_EQ(render(R"([{"role":"user","content":"Q","task":"action"}])", true), B + U + "Q" + A + "<think><｜action｜>");
  EXPECT_EQ(render(R"([{"role":"user","content":"Q","task":"action"}])", false), B + U + "Q" + A + "</think><｜action｜>");
  EXPECT_EQ(render(R"([{"role":"user","content":"Q","task":"query"}])", true), B + U + "Q<｜query｜>");
  // The assistant answer to a task has no reasoning part even in thinking mode.
  EXPECT_EQ(render(R"([{"role":"user","content":"Q","task":"title"},{"role":"assistant","content":"T","reasoning_content":"R"}])", true),
            B + U + "Q<｜title｜>T" + E);
  EXPECT_NE(render_error(R"([{"role":"user","content":"Q","task":"nope"}])").find("unknown task 'nope'"), std::string::npos);
}

TEST(ChatEncoder, WithoutEos) {
  EXPECT_EQ(render(R"([{"role":"user","content":"Q"},{"role":"assistant","content":"par","wo_eos":true}])", false),
            B + U + "Q" + A + "</think>par");
}

TEST(ChatEncoder, RejectsWhatTheOfficialEncoderRejects) {
  EXPECT_NE(render_error(R"([{"role":"robot","content":"x"}])").find("unknown role 'robot'"), std::string::npos);
  EXPECT_NE(render_error(R"([{"content":"x"}])").find("role"), std::string::npos);
  EXPECT_NE(render_error(R"([{"role":"developer","content":""}])").find("developer"), std::string::npos);
  EXPECT_NE(render_error(R"([{"role":"user","content":null}])").find("content"), std::string::npos);
  EXPECT_NE(render_error(R"([{"role":"user","content":[{"type":"text","text":"x"}]}])").find("content"), std::string::npos);
  EXPECT_NE(render_error(R"([{"role":"system","content":"S","tools":[{"type":"function"}]}])").find("function"), std::string::npos);
  EXPECT_NE(render_error(R"([{"role":"assistant","tool_calls":[{"type":"function"}]}])").find("function"), std::string::npos);
  EXPECT_NE(render_error("[{").find("invalid JSON"), std::string::npos);
  EXPECT_NE(render_error(R"({"tools":[]})").find("messages"), std::string::npos);
  EXPECT_NE(render_error("42").find("list of messages"), std::string::npos);
}

TEST(ChatEncoder, NativeMessagesMatchJson) {
  std::vector<Message> msgs(3);
  msgs[0].role = "system";
  msgs[0].content = "S";
  msgs[1].role = "user";
  msgs[1].content = "Q";
  msgs[2].role = "assistant";
  msgs[2].content = "";
  msgs[2].reasoning_content = "R";
  msgs[2].tool_calls.push_back({"id1", "f", R"({"k": "v"})"});
  auto r = render_chat(msgs, ChatOptions{});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(*r, render(R"([{"role":"system","content":"S"},{"role":"user","content":"Q"},{"role":"assistant","content":"","reasoning_content":"R",
    "tool_calls":[{"id":"id1","type":"function","function":{"name":"f","arguments":"{\"k\": \"v\"}"}}]}])", true));
}

}  // namespace
}  // namespace dsv4::chat

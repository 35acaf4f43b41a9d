// Request parsing: every rejected shape gets the documented status, field and message.
#include <gtest/gtest.h>

#include "server/anthropic_request.h"
#include "server/chat_request.h"

namespace dsv4::server {
namespace {

RequestLimits limits() { return RequestLimits{4096}; }

MaybeError chat(const std::string& body, ChatRequest* out = nullptr) {
  ChatRequest r;
  return parse_chat_request(Json::parse(body), limits(), out ? out : &r);
}

void expect_error(const std::string& body, int status, const std::string& param) {
  SCOPED_TRACE(body);
  auto e = chat(body);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, status) << e->message;
  EXPECT_EQ(e->param, param) << e->message;
  EXPECT_FALSE(e->message.empty());
}

const char* kUser = R"({"role":"user","content":"hi"})";

TEST(ChatRequest, ParsesAFullRequest) {
  ChatRequest r;
  auto e = chat(R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
      "temperature":0.5,"top_p":0.9,"max_tokens":12,"stop":["x","y"],"n":2,"seed":7,"logprobs":true,"top_logprobs":3,
      "presence_penalty":0.5,"frequency_penalty":-0.5,"logit_bias":{"5":-100},"stream":true,"stream_options":{"include_usage":true},
      "thinking":{"type":"disabled"},"reasoning_effort":"max","user":"u","unknown_field":{"ignored":true}})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(*r.messages[1].content, "a\nb");
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 0.5f);
  EXPECT_EQ(r.gen.max_tokens, 12);
  EXPECT_EQ(r.gen.stop.size(), 2u);
  EXPECT_EQ(r.gen.n, 2);
  EXPECT_EQ(r.gen.sampling.seed, 7u);
  EXPECT_TRUE(r.gen.logprobs);
  EXPECT_EQ(r.gen.sampling.top_logprobs, 3);
  ASSERT_EQ(r.gen.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(r.gen.sampling.logit_bias[0].first, 5);
  EXPECT_TRUE(r.gen.stream);
  EXPECT_TRUE(r.gen.include_usage);
  EXPECT_EQ(r.thinking, std::optional<bool>(false));
  EXPECT_EQ(r.reasoning_effort, std::optional<std::string>("max"));
}

TEST(ChatRequest, ToolsToolChoiceAndRoundTrip) {
  ChatRequest r;
  auto e = chat(R"({"messages":[{"role":"user","content":"w?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"city\":\"Paris\"}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"sunny"}],
      "tools":[{"type":"function","function":{"name":"get","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
      "tool_choice":{"type":"function","function":{"name":"get"}}})", &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.tool_choice, ToolChoice::kFunction);
  EXPECT_EQ(r.tool_choice_name, "get");
  ASSERT_EQ(r.messages.size(), 3u);
  ASSERT_EQ(r.messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(r.messages[1].tool_calls[0].name, "get");
  EXPECT_EQ(r.messages[2].tool_call_id, "call_1");
}

TEST(ChatRequest, PrefixCompletionOnTheLastAssistantMessage) {
  ChatRequest r;
  ASSERT_FALSE(chat(R"({"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"```py\n","prefix":true}]})", &r));
  EXPECT_TRUE(r.prefix);
  EXPECT_TRUE(r.messages.back().wo_eos);
  expect_error(R"({"messages":[{"role":"assistant","content":"a","prefix":true},{"role":"user","content":"q"}]})", 400, "messages[0].prefix");
}

TEST(ChatRequest, ResponseFormats) {
  ChatRequest r;
  ASSERT_FALSE(chat(R"({"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_object"}})", &r));
  EXPECT_EQ(r.format, ResponseFormat::kJsonObject);
  ChatRequest s;
  ASSERT_FALSE(chat(R"({"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}})", &s));
  EXPECT_EQ(s.format, ResponseFormat::kJsonSchema);
  EXPECT_EQ(Json::parse(s.json_schema), Json::parse(R"({"type":"object"})"));
  expect_error(R"({"messages":[{"role":"user","content":"q"}],"response_format":{"type":"yaml"}})", 400, "response_format.type");
  expect_error(R"({"messages":[{"role":"user","content":"q"}],"response_format":{"type":"json_schema"}})", 400, "response_format.json_schema");
}

TEST(ChatRequest, ErrorTable) {
  const std::string u = kUser;
  expect_error(R"({})", 400, "messages");
  expect_error(R"({"messages":[]})", 400, "messages");
  expect_error(R"({"messages":"hi"})", 422, "messages");
  expect_error(R"({"messages":[{"role":"wizard","content":"x"}]})", 400, "messages[0].role");
  expect_error(R"({"messages":[{"content":"x"}]})", 400, "messages[0].role");
  expect_error(R"({"messages":[{"role":"user"}]})", 400, "messages[0].content");
  expect_error(R"({"messages":[{"role":"user","content":5}]})", 422, "messages[0].content");
  expect_error(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", 400, "messages[0].content[0]");
  expect_error(R"({"messages":[)" + u + R"(,{"role":"tool","tool_call_id":"call_9","content":"x"}]})", 400, "messages[1].tool_call_id");
  expect_error(R"({"messages":[)" + u + R"(,{"role":"tool","content":"x"}]})", 400, "messages[1].tool_call_id");
  expect_error(R"({"messages":[)" + u + R"(],"temperature":"hot"})", 422, "temperature");
  expect_error(R"({"messages":[)" + u + R"(],"temperature":3})", 400, "temperature");
  expect_error(R"({"messages":[)" + u + R"(],"top_p":0})", 400, "top_p");
  expect_error(R"({"messages":[)" + u + R"(],"max_tokens":-5})", 400, "max_tokens");
  expect_error(R"({"messages":[)" + u + R"(],"max_tokens":0})", 400, "max_tokens");
  expect_error(R"({"messages":[)" + u + R"(],"max_tokens":99999999999})", 400, "max_tokens");
  expect_error(R"({"messages":[)" + u + R"(],"max_completion_tokens":1.5})", 422, "max_completion_tokens");
  expect_error(R"({"messages":[)" + u + R"(],"n":0})", 400, "n");
  expect_error(R"({"messages":[)" + u + R"(],"n":17})", 400, "n");
  expect_error(R"({"messages":[)" + u + R"(],"stop":5})", 422, "stop");
  expect_error(R"({"messages":[)" + u + R"(],"top_logprobs":3})", 400, "top_logprobs");
  expect_error(R"({"messages":[)" + u + R"(],"logprobs":true,"top_logprobs":21})", 400, "top_logprobs");
  expect_error(R"({"messages":[)" + u + R"(],"logit_bias":{"x":1}})", 400, "logit_bias");
  expect_error(R"({"messages":[)" + u + R"(],"logit_bias":{"3":500}})", 400, "logit_bias");
  expect_error(R"({"messages":[)" + u + R"(],"stream":"yes"})", 422, "stream");
  expect_error(R"({"messages":[)" + u + R"(],"thinking":{"type":"sometimes"}})", 400, "thinking.type");
  expect_error(R"({"messages":[)" + u + R"(],"reasoning_effort":"extreme"})", 400, "reasoning_effort");
  expect_error(R"({"messages":[)" + u + R"(],"tool_choice":"required"})", 400, "tool_choice");
  expect_error(R"({"messages":[)" + u + R"(],"tool_choice":"sometimes"})", 400, "tool_choice");
  expect_error(R"({"messages":[)" + u + R"(],"tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}})", 400, "tool_choice");
  expect_error(R"({"messages":[)" + u + R"(],"tools":[{"type":"function","function":{}}]})", 400, "tools[0].function.name");
  expect_error(R"({"messages":[)" + u + R"(],"tools":{"a":1}})", 422, "tools");
  expect_error(R"({"messages":[)" + u + R"(],"model":7})", 422, "model");
  auto e = parse_chat_request(Json::parse("[1,2]"), limits(), nullptr);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 400);
}

TEST(CompletionRequest, PromptsSuffixAndErrors) {
  CompletionRequest r;
  ASSERT_FALSE(parse_completion_request(Json::parse(R"({"prompt":"def f(","suffix":"return x","max_tokens":5,"logprobs":2,"echo":true})"), limits(), &r));
  EXPECT_EQ(r.prompt, "def f(");
  EXPECT_EQ(r.suffix, std::optional<std::string>("return x"));
  EXPECT_TRUE(r.gen.logprobs);
  EXPECT_EQ(r.gen.sampling.top_logprobs, 2);
  CompletionRequest t;
  ASSERT_FALSE(parse_completion_request(Json::parse(R"({"prompt":[1,2,3]})"), limits(), &t));
  EXPECT_EQ(t.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  CompletionRequest x;
  auto e = parse_completion_request(Json::parse(R"({"max_tokens":3})"), limits(), &x);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "prompt");
  e = parse_completion_request(Json::parse(R"({"prompt":["a","b"]})"), limits(), &x);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, 400);
  e = parse_completion_request(Json::parse(R"({"prompt":[1,-2]})"), limits(), &x);
  ASSERT_TRUE(e.has_value());
}

TEST(MessagesRequest, ConvertsBlocksToolsAndThinking) {
  ChatRequest r;
  auto e = parse_messages_request(Json::parse(R"({"model":"m","max_tokens":10,"system":[{"type":"text","text":"be brief"}],
      "messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":[{"type":"thinking","thinking":"need tool","signature":""},{"type":"text","text":"checking"},
                                       {"type":"tool_use","id":"toolu_1","name":"get","input":{"city":"Paris"}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]},{"type":"text","text":"thanks"}]}],
      "tools":[{"name":"get","description":"d","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
      "tool_choice":{"type":"any"},"stop_sequences":["END"],"thinking":{"type":"enabled","budget_tokens":1024},"temperature":0.3})"),
                                 limits(), false, &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  ASSERT_EQ(r.messages.size(), 5u);  // system, user, assistant, tool, user
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[2].reasoning_content, "need tool");
  ASSERT_EQ(r.messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(Json::parse(r.messages[2].tool_calls[0].arguments)["city"], "Paris");
  EXPECT_EQ(r.messages[3].role, "tool");
  EXPECT_EQ(*r.messages[3].content, "sunny");
  EXPECT_EQ(*r.messages[4].content, "thanks");
  EXPECT_EQ(r.tool_choice, ToolChoice::kRequired);
  EXPECT_EQ(Json::parse(r.tools_json)[0]["function"]["parameters"]["required"][0], "city");
  EXPECT_EQ(r.gen.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.thinking, std::optional<bool>(true));
  EXPECT_EQ(r.gen.max_tokens, 10);
}

TEST(MessagesRequest, Errors) {
  auto err = [](const std::string& body, bool count = false) {
    ChatRequest r;
    return parse_messages_request(Json::parse(body), limits(), count, &r);
  };
  EXPECT_EQ(err(R"({"messages":[{"role":"user","content":"x"}]})")->param, "max_tokens");
  EXPECT_FALSE(err(R"({"messages":[{"role":"user","content":"x"}]})", true).has_value());  // count_tokens needs none
  EXPECT_EQ(err(R"({"max_tokens":5,"messages":[{"role":"system","content":"x"}]})")->param, "messages[0].role");
  EXPECT_EQ(err(R"({"max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"nope","content":"x"}]}]})")->code,
            "unknown_tool_call");
  EXPECT_EQ(err(R"({"max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]})")->status, 400);
  EXPECT_EQ(err(R"({"max_tokens":"5","messages":[{"role":"user","content":"x"}]})")->status, 422);
  EXPECT_EQ(err(R"({"max_tokens":5,"messages":[]})")->param, "messages");
}

}  // namespace
}  // namespace dsv4::server

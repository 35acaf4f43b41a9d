// The real property: with the default model's tokenizer, random tokens drawn from random logits
// (several seeds, temperatures up to 2, greedy, small and large budgets) through mask()/accept()
// always end with end-of-sentence within the budget, and the text parses: JSON valid against the
// schema, DSML read by chat::CompletionParser into calls of the listed tools with valid arguments.
#include <chrono>
#include <cstdlib>

#include "chat/completion_parser.h"
#include "chat/special_tokens.h"
#include "constrain/grammar_constraint.h"
#include "constrain/test_support.h"

namespace dsv4::constrain {
namespace {

using namespace testing;

const char* kSchemas[] = {
    "",
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"},
        "tags":{"type":"array","items":{"enum":["a","b","c"]},"minItems":1,"maxItems":3}},
        "required":["name","age","tags"],"additionalProperties":false})",
    R"({"$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}},
        "type":"object","properties":{"shape":{"anyOf":[{"$ref":"#/$defs/pt"},{"type":"string","minLength":3},{"type":"null"}]},
        "ok":{"type":"boolean"},"deep":{"type":"object","properties":{"a":{"type":"array","items":{"type":"array","items":{"type":"integer"}}}},"required":["a"]}},
        "required":["shape","ok","deep"]})",
    R"({"type":"array","items":{"type":["string","integer"]},"maxItems":4})",
    R"({"const":{"fixed":true}})",
};

// The budget is the output's shortest length (+1 for end-of-sentence) plus `slack` tokens: slack 0
// leaves no choice but the shortest completion from the first token on.
struct Case {
  double temp;
  int slack;
  double sigma;
};
const Case kCases[] = {{2.0, 400, 3.0}, {1.0, 20, 3.0}, {0.0, 100, 2.0}, {2.0, 0, 6.0}, {2.0, 3, 3.0}, {0.7, 1500, 1.0}};

int budget_for(engine::TokenConstraint& c, const Case& k) {
  return static_cast<int>(dynamic_cast<GrammarConstraint&>(c).min_bytes_to_finish()) + 1 + k.slack;
}

void check_json(const std::string& schema, bool thinking, uint64_t seed, const Case& c) {
  auto con = json_output(default_vocab(), schema, thinking);
  ASSERT_TRUE(con.ok()) << con.message();
  const int budget = budget_for(**con, c);
  SampleRun r = sample(**con, *default_vocab(), default_tokenizer(), seed, c.temp, budget, c.sigma);
  const std::string where = "schema " + schema.substr(0, 40) + " seed " + std::to_string(seed) + " budget " +
                            std::to_string(budget) + " text: " + r.text;
  ASSERT_TRUE(r.failure.empty()) << r.failure << "; " << where;
  ASSERT_TRUE(r.saw_eos) << "no end-of-sentence within the budget; " << where;
  ASSERT_LE(r.tokens, budget);
  std::string body = r.text;
  if (thinking) {
    const size_t end = body.find(chat::kThinkEnd);
    ASSERT_NE(end, std::string::npos) << where;
    body = body.substr(end + chat::kThinkEnd.size());
  }
  chat::CompletionParser p(thinking);
  p.feed(r.text + std::string(chat::kEos));
  chat::ParseResult pr = p.finish();
  EXPECT_TRUE(pr.ok() && pr.tool_calls.empty() && pr.content == body) << where;
  Json v;
  try {
    v = Json::parse(body);
  } catch (const std::exception& e) {
    FAIL() << "not JSON: " << e.what() << "; " << where;
  }
  const Json s = schema.empty() ? Json{{"type", "object"}} : Json::parse(schema);
  EXPECT_EQ(validate(v, s, s), "") << where;
}

TEST(ConstrainSampling, JsonOutputAlwaysValid) {
  for (const char* schema : kSchemas)
    for (bool thinking : {false, true})
      for (uint64_t seed = 1; seed <= 4; ++seed)
        for (const Case& c : kCases) check_json(schema, thinking, seed * 977 + (thinking ? 13 : 0), c);
}

const char* kTools = R"([
  {"type":"function","function":{"name":"get_weather","description":"w","parameters":{"type":"object",
     "properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]},"days":{"type":"integer"}},"required":["city"]}}},
  {"type":"function","function":{"name":"search","parameters":{"type":"object",
     "properties":{"query":{"type":"string"},"filters":{"type":"object","properties":{"site":{"type":"string"},
       "limit":{"type":"integer"}},"required":["limit"]},"exact":{"type":"boolean"},"ids":{"type":"array","items":{"type":"integer"}},
       "note":{"type":["string","null"]}},"required":["query","filters"]}}},
  {"type":"function","function":{"name":"ping","parameters":{"type":"object","properties":{}}}}
])";

void check_tools(const std::optional<std::string>& only, bool thinking, bool parallel, uint64_t seed, const Case& c) {
  auto con = tool_calls(default_vocab(), kTools, only, thinking, parallel);
  ASSERT_TRUE(con.ok()) << con.message();
  const int budget = budget_for(**con, c);
  SampleRun r = sample(**con, *default_vocab(), default_tokenizer(), seed, c.temp, budget, c.sigma);
  const std::string where = "seed " + std::to_string(seed) + " budget " + std::to_string(budget) + " text: " + r.text;
  ASSERT_TRUE(r.failure.empty()) << r.failure << "; " << where;
  ASSERT_TRUE(r.saw_eos) << "no end-of-sentence within the budget; " << where;
  chat::CompletionParser p(thinking);
  p.feed(r.text + std::string(chat::kEos));
  chat::ParseResult pr = p.finish();
  ASSERT_TRUE(pr.ok()) << (pr.errors.empty() ? "truncated" : pr.errors[0]) << "; " << where;
  EXPECT_TRUE(pr.content.empty()) << where;
  EXPECT_EQ(pr.reasoning_closed, thinking);
  ASSERT_FALSE(pr.tool_calls.empty()) << where;
  if (!parallel) {
    EXPECT_EQ(pr.tool_calls.size(), 1u);
  }
  const Json tools = Json::parse(kTools);
  for (const auto& call : pr.tool_calls) {
    if (only) {
      EXPECT_EQ(call.name, *only);
    }
    const Json* params = nullptr;
    for (const auto& t : tools)
      if (t["function"]["name"] == call.name) params = &t["function"]["parameters"];
    ASSERT_NE(params, nullptr) << "unknown tool " << call.name << "; " << where;
    Json args;
    try {
      args = Json::parse(call.arguments);
    } catch (const std::exception& e) {
      FAIL() << "arguments not JSON: " << call.arguments << "; " << where;
    }
    EXPECT_TRUE(args.is_object());
    EXPECT_EQ(validate(args, *params, *params), "") << call.arguments << "; " << where;
  }
}

TEST(ConstrainSampling, ToolCallsAlwaysParse) {
  for (bool thinking : {false, true})
    for (uint64_t seed = 1; seed <= 4; ++seed)
      for (const Case& c : kCases) {
        check_tools(std::nullopt, thinking, true, seed * 31 + thinking, c);
        check_tools(std::string("search"), thinking, seed % 2 == 0, seed * 53 + thinking, c);
      }
}

TEST(ConstrainSampling, EosOnlyAtTheEndAndExactDsml) {
  // Greedy with end-of-sentence favoured: it may only come when the output is complete.
  auto con = tool_calls(default_vocab(), kTools, std::string("ping"), false, false);
  ASSERT_TRUE(con.ok());
  const Vocabulary& v = *default_vocab();
  std::string text;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> logits(v.size(), 0.f);
    logits[v.eos()] = 100.f;
    (*con)->mask(logits, 1000);
    const auto pick = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    (*con)->accept(pick);
    if (pick == v.eos()) break;
    text += v.bytes(pick);
  }
  EXPECT_EQ(text, "\n\n<｜DSML｜tool_calls>\n<｜DSML｜invoke name=\"ping\">\n\n</｜DSML｜invoke>\n</｜DSML｜tool_calls>");
  auto* gc = dynamic_cast<GrammarConstraint*>(con->get());
  ASSERT_NE(gc, nullptr);
  EXPECT_TRUE(gc->finished());
  EXPECT_FALSE(gc->broken());
}

TEST(ConstrainSampling, CloneIsIndependent) {
  auto con = json_output(default_vocab(), kSchemas[1], false);
  ASSERT_TRUE(con.ok());
  SampleRun head = sample(**con, *default_vocab(), default_tokenizer(), 5, 1.0, 6);
  ASSERT_FALSE(head.saw_eos);
  auto copy = (*con)->clone();
  SampleRun a = sample(**con, *default_vocab(), default_tokenizer(), 6, 2.0, 200);
  SampleRun b = sample(*copy, *default_vocab(), default_tokenizer(), 7, 2.0, 200);
  ASSERT_TRUE(a.saw_eos && b.saw_eos);
  const Json s = Json::parse(kSchemas[1]);
  EXPECT_EQ(validate(Json::parse(head.text + a.text), s, s), "");
  EXPECT_EQ(validate(Json::parse(head.text + b.text), s, s), "");
}

TEST(ConstrainSampling, Errors) {
  EXPECT_FALSE(tool_calls(default_vocab(), "[]", std::nullopt, false).ok());
  EXPECT_FALSE(tool_calls(default_vocab(), kTools, std::string("nope"), false).ok());
  EXPECT_FALSE(tool_calls(default_vocab(), R"([{"type":"function","function":{"name":"a\"b"}}])", std::nullopt, false).ok());
  EXPECT_FALSE(json_output(default_vocab(), R"({"type":7})", false).ok());
  EXPECT_FALSE(json_output(nullptr, "", false).ok());
  EXPECT_FALSE(Vocabulary::from_tokens({"a", "b"}, {0, 0}, 0, 2).ok());  // not byte-complete
}

// Mask time per token, on the default vocabulary and, when DSV4_CONSTRAIN_TOKENIZER names a
// tokenizer.json (e.g. a real DeepSeek one, ~129k tokens), on that one too.
void time_masks(const std::shared_ptr<const Vocabulary>& v, const Tokenizer& tok, const char* label) {
  for (bool tools : {false, true}) {
    auto con = tools ? tool_calls(v, kTools, std::nullopt, true) : json_output(v, kSchemas[2], true);
    ASSERT_TRUE(con.ok()) << con.message();
    SampleRun r = sample(**con, *v, tok, 11, 1.0, 600, 2.0);
    ASSERT_TRUE(r.saw_eos && r.failure.empty()) << r.failure;
    std::printf("[mask %s %s] %d tokens, mask() %.3f ms per token on average, %.3f ms at most\n", label,
                tools ? "tools" : "json", r.tokens, r.mask_ms / r.tokens, r.max_mask_ms);
  }
}

TEST(ConstrainSampling, MaskTime) {
  time_masks(default_vocab(), default_tokenizer(), "default");
  const char* path = std::getenv("DSV4_CONSTRAIN_TOKENIZER");
  if (!path) return;
  auto tok = Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.message();
  auto v = Vocabulary::build(*tok, *tok->token_id(std::string(chat::kEos)), tok->vocab_size());
  ASSERT_TRUE(v.ok()) << v.message();
  time_masks(*v, *tok, "external");
}

}  // namespace
}  // namespace dsv4::constrain

namespace dsv4::constrain {
namespace {

using namespace testing;

bool allowed_after(engine::TokenConstraint& c, const std::vector<int32_t>& prefix, int32_t tok) {
  auto copy = c.clone();
  for (int32_t t : prefix) copy->accept(t);
  std::vector<float> logits(default_vocab()->size(), 0.f);
  copy->mask(logits, 1000);
  return std::isfinite(logits[tok]);
}

TEST(ConstrainTokens, AddedTokensOnlyAsGrammarLiterals) {
  const Tokenizer& tok = default_tokenizer();
  const int32_t think_end = *tok.token_id("</think>"), dsml = *tok.token_id("｜DSML｜"),
                think = *tok.token_id("<think>"), user = *tok.token_id("<｜User｜>");
  auto one = [&](std::string_view s) {
    auto ids = tok.encode(s);
    EXPECT_EQ(ids.size(), 1u) << s;
    return ids[0];
  };
  auto con = tool_calls(default_vocab(), kTools, std::nullopt, true);
  ASSERT_TRUE(con.ok());
  // Reasoning: "</think>" closes it; other markers never appear.
  EXPECT_TRUE(allowed_after(**con, {}, think_end));
  EXPECT_FALSE(allowed_after(**con, {}, dsml));
  EXPECT_FALSE(allowed_after(**con, {}, think));
  EXPECT_FALSE(allowed_after(**con, {}, user));
  EXPECT_FALSE(allowed_after(**con, {}, default_vocab()->eos()));
  // After "</think>": the block starts "\n\n<" then "｜DSML｜" (as the added token too).
  const int32_t nl = one("\n"), lt = one("<");
  EXPECT_TRUE(allowed_after(**con, {think_end, nl, nl, lt}, dsml));
  EXPECT_FALSE(allowed_after(**con, {think_end, nl, nl, lt}, think_end));
  EXPECT_FALSE(allowed_after(**con, {think_end, nl, lt}, dsml));
  // JSON strings take no added token.
  auto js = json_output(default_vocab(), R"({"type":"string"})", false);
  ASSERT_TRUE(js.ok());
  EXPECT_FALSE(allowed_after(**js, {one("\"")}, think_end));
  EXPECT_TRUE(allowed_after(**js, {one("\"")}, one("\"")));
}

}  // namespace
}  // namespace dsv4::constrain

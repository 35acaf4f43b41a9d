// The recognizer on whole strings: JSON for schemas accepted, invalid bytes rejected at the
// first byte that cannot lead anywhere, and the shortest-completion bound exact on examples.
#include "constrain/recognizer.h"

#include <gtest/gtest.h>

#include "constrain/grammars.h"

namespace dsv4::constrain {
namespace {

struct Fixture {
  std::shared_ptr<const Grammar> g;
  explicit Fixture(std::string_view schema, bool thinking = false) {
    auto r = json_output_grammar(schema, thinking);
    EXPECT_TRUE(r.ok()) << r.message();
    if (r.ok()) g = *r;
  }
  // -1: the whole text is a complete output; otherwise the offset of the first rejected byte,
  // or the length when the text is a valid but incomplete prefix (reported as size + 1000).
  long check(std::string_view text) const {
    Recognizer rec(*g);
    State s;
    rec.start(s);
    for (size_t i = 0; i < text.size(); ++i)
      if (!rec.feed(s, text.substr(i, 1))) return static_cast<long>(i);
    return rec.can_end(s) ? -1 : static_cast<long>(text.size()) + 1000;
  }
  bool ok(std::string_view text) const { return check(text) == -1; }
  int64_t dist_after(std::string_view text) const {
    Recognizer rec(*g);
    State s;
    rec.start(s);
    EXPECT_TRUE(rec.feed(s, text)) << text;
    return rec.dist(s);
  }
};

TEST(Recognizer, AnyObject) {
  Fixture f("");
  EXPECT_TRUE(f.ok("{}"));
  EXPECT_EQ(f.check(R"({"a":1,"b":[true,false,null],"c":{"d":"x\n\u00e9"}})"), -1);
  EXPECT_TRUE(f.ok(R"({"a": 1, "b": [1, 2.5e-3, -0]})"));
  EXPECT_EQ(f.check("[]"), 0);            // an object is required
  EXPECT_EQ(f.check(R"({"a":01})"), 6);   // no leading zeros
  EXPECT_EQ(f.check(R"({"a":1,})"), 7);   // no trailing comma
  EXPECT_EQ(f.check("{\"a\x01\":1}"), 3);  // raw control character in a string
  EXPECT_EQ(f.check(R"({"a":"\q"})"), 7);  // bad escape
  EXPECT_EQ(f.check(R"({"a":"\ud800"})"), 9);  // lone surrogate escape
  EXPECT_EQ(f.check("{\"a\":\"\xC0\xAF\"}"), 6);  // overlong UTF-8
  EXPECT_EQ(f.check(R"({"a":1)"), 6 + 1000);      // incomplete
  EXPECT_EQ(f.check(R"({"a":"<think>"})"), 12);   // chat marker in a string
  EXPECT_EQ(f.check(R"({"a":1}  )"), 7);          // nothing after the value
}

TEST(Recognizer, TypesEnumConst) {
  Fixture f(R"({"type":"object","properties":{
      "s":{"type":"string","minLength":2,"maxLength":3},
      "i":{"type":"integer"},
      "e":{"enum":["red","green",3]},
      "c":{"const":{"k":[1]}},
      "n":{"type":["number","null"]},
      "b":{"type":"boolean"}},
    "required":["s","e"]})");
  EXPECT_TRUE(f.ok(R"({"s":"ab","e":"red"})"));
  EXPECT_TRUE(f.ok(R"({"e":3,"s":"abc","i":-12,"c":{"k":[1]},"n":null,"b":true})"));
  EXPECT_TRUE(f.ok(R"({"s":"ééé","e":"green","n":1.5E+10})"));
  EXPECT_EQ(f.check(R"({"s":"a")"), 7);                 // minLength
  EXPECT_EQ(f.check(R"({"s":"abcd")"), 9);              // maxLength
  EXPECT_EQ(f.check(R"({"s":"ab","e":"blue"})"), 15);   // not in the enum
  EXPECT_EQ(f.check(R"({"s":"ab","e":"red","i":1.5})"), 25);  // integer
  EXPECT_EQ(f.check(R"({"s":"ab"})"), 9);               // "e" is required
  EXPECT_EQ(f.check(R"({"s":"ab","s":"cd"})"), 11);     // no repeated key
  EXPECT_EQ(f.check(R"({"s":"ab","x":1})"), 11);        // unknown key
  EXPECT_EQ(f.check(R"({"s":"ab","e":"red","c":{"k":[2]}})"), 30);
}

TEST(Recognizer, ArraysAndNesting) {
  Fixture f(R"({"type":"array","minItems":1,"maxItems":2,
      "items":{"type":"object","properties":{"p":{"type":"array","items":{"type":"integer"}}},"required":["p"]}})");
  EXPECT_TRUE(f.ok(R"([{"p":[]}])"));
  EXPECT_TRUE(f.ok(R"([{"p":[1, 2]}, {"p":[3]}])"));
  EXPECT_EQ(f.check("[]"), 1);                                  // minItems
  EXPECT_EQ(f.check(R"([{"p":[]},{"p":[]},)"), 18);            // maxItems
  EXPECT_EQ(f.check(R"([{"p":["x"]}])"), 7);
}

TEST(Recognizer, AnyOfAndRefs) {
  Fixture f(R"({"$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},
                                "required":["x","y"],"additionalProperties":false},
                         "tag":{"type":"object","properties":{"tag":{"type":"string"}},"required":["tag"]}},
      "type":"object","properties":{"v":{"anyOf":[{"$ref":"#/$defs/pt"},{"$ref":"#/$defs/tag"},{"type":"string"}]},
                                    "w":{"oneOf":[{"type":"integer"},{"type":"null"}]}},
      "required":["v"]})");
  EXPECT_TRUE(f.ok(R"({"v":{"x":1,"y":2}})"));
  EXPECT_TRUE(f.ok(R"({"v":{"tag":"t"},"w":null})"));
  EXPECT_TRUE(f.ok(R"({"v":"s","w":5})"));
  EXPECT_EQ(f.check(R"({"v":{"x":1,"tag":"t"}})"), 13);   // the alternatives do not mix
  EXPECT_EQ(f.check(R"({"v":{"x":1}})"), 11);             // pt needs y
  EXPECT_EQ(f.check(R"({"v":1})"), 5);
}

TEST(Recognizer, SchemaErrors) {
  EXPECT_FALSE(json_output_grammar("{", false).ok());
  EXPECT_FALSE(json_output_grammar(R"({"type":"strin"})", false).ok());
  EXPECT_FALSE(json_output_grammar(R"({"$ref":"#/$defs/missing"})", false).ok());
  EXPECT_FALSE(json_output_grammar(R"({"type":"string","minLength":-1})", false).ok());
  EXPECT_FALSE(json_output_grammar(R"(false)", false).ok());  // accepts nothing
  EXPECT_FALSE(json_output_grammar(R"({"type":"object","properties":{"a":false},"required":["a"]})", false).ok());
  auto rec = json_output_grammar(R"({"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}},
                                      "$ref":"#/$defs/n"})", false);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.message().find("recursive"), std::string::npos) << rec.message();
  // Unsupported keywords are ignored.
  EXPECT_TRUE(json_output_grammar(R"({"type":"string","pattern":"^a+$","format":"email"})", false).ok());
}

TEST(Recognizer, Thinking) {
  Fixture f(R"({"type":"integer"})", true);
  EXPECT_TRUE(f.ok("let me think</think>42"));
  EXPECT_TRUE(f.ok("</think>0"));
  EXPECT_EQ(f.check("a<think>"), 7);                         // marker inside reasoning
  EXPECT_EQ(f.check("a<｜DSML｜tool_calls"), 11);             // no tool call block in reasoning
  EXPECT_EQ(f.check("x</think> 1"), 9);                      // the value follows at once
}

TEST(Recognizer, ShortestCompletion) {
  Fixture f(R"({"type":"object","properties":{"a":{"type":"string","minLength":3},"b":{"type":"integer"}},
                "required":["a","b"]})");
  EXPECT_EQ(f.dist_after(""), std::string(R"({"a":"xxx","b":0})").size());
  EXPECT_EQ(f.dist_after(R"({"b":12)"), std::string(R"(,"a":"xxx"})").size());
  EXPECT_EQ(f.dist_after(R"({"a":"x)"), std::string(R"(xx","b":0})").size());
  Fixture t(R"({"type":"integer"})", true);
  EXPECT_EQ(t.dist_after("abc"), std::string("</think>0").size());
  EXPECT_EQ(t.dist_after("abc</th"), std::string("ink>0").size());
  EXPECT_EQ(t.dist_after("\xE4\xBD"), std::string("\xA0</think>0").size());  // finish the character
}

}  // namespace
}  // namespace dsv4::constrain

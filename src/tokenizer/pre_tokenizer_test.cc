#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace dsv4::tok {
namespace {

std::vector<std::string> pieces(std::string_view text) {
  static const PreTokenizer pre = [] {
    auto p = PreTokenizer::from_json(PreTokenizer::deepseek_json());
    EXPECT_TRUE(p.ok()) << p.message();
    return std::move(p).value();
  }();
  std::vector<std::string_view> out;
  pre.split(text, out);
  return {out.begin(), out.end()};
}
using V = std::vector<std::string>;

// Expected splits were checked against the Hugging Face engine's preTokenizeString.
TEST(PreTokenizer, DeepSeekTrapsFromSpec) {
  EXPECT_EQ(pieces(">;\n"), V{">;\n"});
  EXPECT_EQ(pieces("a >;\nb"), (V{"a", " >;\n", "b"}));
  EXPECT_EQ(pieces(" ~"), V{" ~"});
  EXPECT_EQ(pieces("x ~y"), (V{"x", " ~", "y"}));
  EXPECT_EQ(pieces("    word"), (V{"   ", " word"}));
  EXPECT_EQ(pieces("  \n  x"), (V{"  \n", " ", " x"}));
}

TEST(PreTokenizer, DigitsInGroupsOfThree) {
  EXPECT_EQ(pieces("1234567"), (V{"123", "456", "7"}));
  EXPECT_EQ(pieces("a12b"), (V{"a", "12", "b"}));
  EXPECT_EQ(pieces("٣٤٥٦"), (V{"٣٤٥", "٦"}));  // \p{N}, not just ASCII
}

TEST(PreTokenizer, CjkRunsAreOnePiece) {
  EXPECT_EQ(pieces("Hello 你好世界!"), (V{"Hello", " ", "你好世界", "!"}));
  EXPECT_EQ(pieces("ひらがなカタカナ"), V{"ひらがなカタカナ"});
}

TEST(PreTokenizer, WhitespaceAndLineEnds) {
  EXPECT_EQ(pieces("tab\t\tx"), (V{"tab", "\t", "\tx"}));
  EXPECT_EQ(pieces("a\r\n\r\nb"), (V{"a", "\r\n\r\n", "b"}));
  EXPECT_EQ(pieces("a\xE1\xA0\x8E" "b"), (V{"a", "\xE1\xA0\x8E" "b"}));  // U+180E is no space here
}

TEST(PreTokenizer, RejectsUnsupportedConfigurations) {
  EXPECT_FALSE(PreTokenizer::from_json(nlohmann::json{{"type", "Whitespace"}}).ok());
  EXPECT_FALSE(PreTokenizer::from_json(nlohmann::json{{"type", "Split"}, {"pattern", {{"Regex", "("}}}, {"behavior", "Isolated"}}).ok());
  // Without ByteLevel the model would see raw bytes the vocabulary does not contain.
  EXPECT_FALSE(PreTokenizer::from_json(nlohmann::json{{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Isolated"}}).ok());
}

TEST(PreTokenizer, SplitBehaviours) {
  auto split_with = [](const char* behavior, bool invert, std::string_view text) {
    nlohmann::json j = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    auto p = PreTokenizer::from_json(j);
    EXPECT_TRUE(p.ok()) << p.message();
    std::vector<std::string_view> out;
    p->split(text, out);
    return V(out.begin(), out.end());
  };
  EXPECT_EQ(split_with("Isolated", false, "a-b--c"), (V{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split_with("Removed", false, "a-b--c"), (V{"a", "b", "c"}));
  EXPECT_EQ(split_with("MergedWithPrevious", false, "a-b--c"), (V{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split_with("MergedWithNext", false, "a-b--c"), (V{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split_with("Contiguous", false, "a-b--c"), (V{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(split_with("Removed", true, "a-b--c"), (V{"-", "-", "-"}));
}

// The translated classes must match exactly the HF engine's sets on every code point.
TEST(UnicodeClasses, TranslatedClassesEqualTheHfEngineOnEveryCodePoint) {
  for (const char* cls : {"L", "M", "N", "P", "S", "Space"}) {
    std::string hf_pattern = std::string(cls) == "Space" ? "\\s" : fmt::format("\\p{{{}}}", cls);
    auto translated = translate_hf_regex(hf_pattern);
    ASSERT_TRUE(translated.ok()) << translated.message();
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated->data()), translated->size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    ASSERT_NE(re, nullptr) << *translated;
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    int mismatches = 0;
    for (char32_t cp = 0; cp <= 0x10FFFF && mismatches < 5; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      std::string s;
      append_utf8(s, cp);
      bool m = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, PCRE2_ANCHORED, md, nullptr) > 0;
      if (m != hf_class_contains(cls, cp)) {
        ++mismatches;
        ADD_FAILURE() << cls << " differs at U+" << std::hex << static_cast<uint32_t>(cp);
      }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
  }
}

TEST(UnicodeClasses, TranslationRules) {
  EXPECT_FALSE(translate_hf_regex("[^\\S]").ok());
  EXPECT_FALSE(translate_hf_regex("[a").ok());
  auto t = translate_hf_regex("[\\]\\p{L}]x\\d");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rfind("[\\]\\p{L}", 0), 0u);  // escapes kept, property extended in place
  EXPECT_NE(t->find("]x\\d"), std::string::npos);
}

}  // namespace
}  // namespace dsv4::tok

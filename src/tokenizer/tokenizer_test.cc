#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/test_tokenizers.h"

namespace dsv4 {
namespace {

using tok::testing::small_tokenizer;
using tok::testing::small_tokenizer_json;

TEST(Tokenizer, RoundTripsTextExactly) {
  const Tokenizer& t = small_tokenizer();
  for (const std::string& text : std::vector<std::string>{"", "The lighthouse keeper wrote in her log.", "a  b   c\r\n\tx", "你好，世界！ 😀👨‍👩‍👧",
                           "1234567.89 ~ >;\n", std::string("nul\0byte", 8)}) {
    auto ids = t.encode(text);
    EXPECT_EQ(t.decode(ids), text);
  }
}

TEST(Tokenizer, LearnedMergesShortenCommonWords) {
  const Tokenizer& t = small_tokenizer();
  // " the" is frequent in the training corpus: one token, not four bytes.
  EXPECT_EQ(t.encode(" the").size(), 1u);
  EXPECT_GT(t.encode(" zyxwvq").size(), 2u);
}

TEST(Tokenizer, SpecialTokensHaveTheConfiguredIdsAndMatchAtomically) {
  const Tokenizer& t = small_tokenizer();
  EXPECT_EQ(t.token_id("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(t.token_id("<｜end▁of▁sentence｜>"), 1);
  ASSERT_TRUE(t.token_id("<｜User｜>").has_value());
  int32_t user = *t.token_id("<｜User｜>"), think = *t.token_id("<think>");
  // Matched inside words too, and "<think>" even though every character is in the byte alphabet.
  auto ids = t.encode("x<｜User｜>y<think>z");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[1], user);
  EXPECT_EQ(ids[3], think);
  // A prefix of a special token is ordinary text.
  auto partial = t.encode("<｜User");
  EXPECT_EQ(std::count(partial.begin(), partial.end(), user), 0);
}

TEST(Tokenizer, SkipSpecialDropsOnlySpecialTokens) {
  const Tokenizer& t = small_tokenizer();
  auto ids = t.encode("<｜begin▁of▁sentence｜>hi<｜User｜>yo<｜end▁of▁sentence｜>");
  EXPECT_EQ(t.decode(ids, false), "<｜begin▁of▁sentence｜>hi<｜User｜>yo<｜end▁of▁sentence｜>");
  EXPECT_EQ(t.decode(ids, true), "hi<｜User｜>yo");  // <｜User｜> is not flagged special (as in V3)
  EXPECT_TRUE(t.is_special(0));
  EXPECT_FALSE(t.is_special(*t.token_id("<｜User｜>")));
}

TEST(Tokenizer, OutOfRangeIdsAreSkippedAndReported) {
  const Tokenizer& t = small_tokenizer();
  std::vector<int32_t> ids = {-5, *t.token_id("<think>"), t.vocab_size(), INT32_MAX, INT32_MIN};
  EXPECT_EQ(t.decode(ids), "<think>");
  Status s = t.check_ids(ids);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("-5"), std::string::npos);
  EXPECT_FALSE(t.id_to_token(-1).has_value());
  EXPECT_TRUE(t.token_bytes(1 << 30).empty());
}

TEST(Tokenizer, InvalidUtf8InputIsRepairedNotFatal) {
  const Tokenizer& t = small_tokenizer();
  auto ids = t.encode("ab\xFF\xE4\xBD" "cd");
  EXPECT_EQ(t.decode(ids), "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd");
}

TEST(Tokenizer, BrokenUtf8AcrossTokensDecodesToReplacement) {
  const Tokenizer& t = small_tokenizer();
  auto byte_id = [&](uint8_t b) { return *t.token_id(tok::bytes_to_symbols(std::string(1, static_cast<char>(b)))); };
  // The first two bytes of 你 (E4 BD A0), then 'a': one U+FFFD, as Rust's from_utf8_lossy.
  std::vector<int32_t> ids = {byte_id(0xE4), byte_id(0xBD), byte_id('a')};
  EXPECT_EQ(t.decode(ids), "\xEF\xBF\xBD" "a");
  ids = {byte_id(0xE4), byte_id(0xBD), byte_id(0xA0)};
  EXPECT_EQ(t.decode(ids), "你");
}

TEST(Tokenizer, BothMergeFormatsLoadTheSameModel) {
  nlohmann::json j = nlohmann::json::parse(small_tokenizer_json());
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  auto t = Tokenizer::from_json_text(j.dump(), "string-merges");
  ASSERT_TRUE(t.ok()) << t.message();
  std::string text = "The clockmaker made the clock; 1,024 ids.";
  EXPECT_EQ(t->encode(text), small_tokenizer().encode(text));
}

TEST(Tokenizer, LoadErrorsNameTheProblem) {
  EXPECT_FALSE(Tokenizer::load("/nonexistent/tokenizer.json").ok());
  EXPECT_FALSE(Tokenizer::from_json_text("{not json", "x").ok());
  nlohmann::json j = nlohmann::json::parse(small_tokenizer_json());
  auto broken = j;
  broken["model"]["merges"].push_back({"\xC4\xA0", "nope-not-a-token"});
  auto r = Tokenizer::from_json_text(broken.dump(), "broken");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("nope-not-a-token"), std::string::npos);
  auto bad_id = j;
  bad_id["added_tokens"].push_back({{"id", 5000}, {"content", "<new>"}, {"special", true}, {"normalized", false}});
  EXPECT_FALSE(Tokenizer::from_json_text(bad_id.dump(), "bad-id").ok());
  auto good_id = j;
  good_id["added_tokens"].push_back({{"id", 1024}, {"content", "<new>"}, {"special", true}, {"normalized", false}});
  auto g = Tokenizer::from_json_text(good_id.dump(), "good-id");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->encode("a<new>b")[1], 1024);
  auto norm = j;
  norm["normalizer"] = {{"type", "NFC"}};
  EXPECT_FALSE(Tokenizer::from_json_text(norm.dump(), "nfc").ok());
}

TEST(Tokenizer, LongestAddedTokenWinsAndRawTokensMatchFirst) {
  nlohmann::json j = nlohmann::json::parse(small_tokenizer_json());
  j["added_tokens"].push_back({{"id", 1024}, {"content", "<a>"}, {"special", false}, {"normalized", true}});
  j["added_tokens"].push_back({{"id", 1025}, {"content", "<a><b>"}, {"special", false}, {"normalized", true}});
  j["added_tokens"].push_back({{"id", 1026}, {"content", "b><c"}, {"special", true}, {"normalized", false}});
  auto t = Tokenizer::from_json_text(j.dump(), "added");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->encode("<a><b>"), std::vector<int32_t>{1025});
  // normalized=false tokens are matched in a first pass, so "b><c" wins over the earlier "<a><b>".
  auto ids = t->encode("<a><b><c>");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1026), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1025), 0);
  EXPECT_EQ(t->decode(ids), "<a><b><c>");
}

}  // namespace
}  // namespace dsv4

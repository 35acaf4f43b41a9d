// tokenizer.json -> GGUF vocabulary (tokenizer.ggml.* keys) -> tokenizer.json: the same token ids
// for every text, the same special tokens, and clear errors for tokenizers this engine cannot run.
#include "tokenizer/gguf_vocab.h"

#include <gtest/gtest.h>

#include "tokenizer/test_tokenizers.h"

namespace dsv4::tok {
namespace {

TEST(GgufVocab, RoundTripEncodesAndDecodesTheSame) {
  const Tokenizer& orig = testing::small_tokenizer();
  auto v = gguf_vocab_from_tokenizer_json(testing::small_tokenizer_json(), "small", 1100);
  ASSERT_TRUE(v.ok()) << v.message();
  ASSERT_EQ(v->tokens.size(), 1100u);  // padded to the embedding's rows
  EXPECT_EQ(v->types[1099], kTokUnused);
  EXPECT_EQ(v->tokens[1099], "[PAD1099]");
  EXPECT_EQ(v->types[0], kTokControl);  // BOS: a special added token
  EXPECT_FALSE(v->merges.empty());
  EXPECT_EQ(v->merges[0].find(' ') != std::string::npos, true);
  auto json = tokenizer_json_from_gguf_vocab(*v, "gguf");
  ASSERT_TRUE(json.ok()) << json.message();
  auto back = Tokenizer::from_json_text(*json, "gguf");
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(back->vocab_size(), orig.vocab_size());
  for (const char* text :
       {"Hello, world!", "  spaces\tand\nnewlines\r\n", "数字 12345 and émojis 🙂", "<｜begin▁of▁sentence｜>x<｜end▁of▁sentence｜>",
        "don't you'll WE'RE", ""}) {
    const auto ids = orig.encode(text);
    EXPECT_EQ(back->encode(text), ids) << text;
    EXPECT_EQ(back->decode(ids), orig.decode(ids)) << text;
  }
  for (int32_t id = 0; id < orig.vocab_size(); ++id) EXPECT_EQ(back->is_special(id), orig.is_special(id)) << id;
}

TEST(GgufVocab, BytePlaceholderRoundTripsEveryByte) {
  const GgufVocab v = byte_placeholder_vocab(300);
  auto json = tokenizer_json_from_gguf_vocab(v, "placeholder");
  ASSERT_TRUE(json.ok()) << json.message();
  auto t = Tokenizer::from_json_text(*json, "placeholder");
  ASSERT_TRUE(t.ok()) << t.message();
  const auto ids = t->encode("abc");
  EXPECT_EQ(ids, (std::vector<int32_t>{'a', 'b', 'c'}));
  for (int b = 0; b < 256; ++b) EXPECT_EQ(std::string(t->token_bytes(b)), std::string(1, static_cast<char>(b))) << b;
  EXPECT_EQ(std::string(t->token_bytes(200)), std::string(1, static_cast<char>(200)));
  EXPECT_TRUE(t->is_special(299));
}

TEST(GgufVocab, RefusesOtherTokenizers) {
  GgufVocab v = byte_placeholder_vocab(260);
  v.model = "llama";
  auto r = tokenizer_json_from_gguf_vocab(v, "f.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("'llama'"), std::string::npos) << r.message();
  v.model = "gpt2";
  v.pre = "qwen2";
  r = tokenizer_json_from_gguf_vocab(v, "f.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("qwen2"), std::string::npos) << r.message();
  v.pre = "deepseek-v3";
  v.types.pop_back();
  EXPECT_FALSE(tokenizer_json_from_gguf_vocab(v, "f.gguf").ok());
  EXPECT_FALSE(gguf_vocab_from_tokenizer_json("{", "bad.json", 10).ok());
  EXPECT_FALSE(gguf_vocab_from_tokenizer_json(R"({"model":{"type":"Unigram"}})", "uni.json", 10).ok());
}

}  // namespace
}  // namespace dsv4::tok

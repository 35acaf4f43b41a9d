#include "tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include "tokenizer/test_tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::tok {
namespace {

TEST(BpeTrainer, ExactVocabSizeAndDeterministic) {
  std::string corpus = testing::committed_corpus();
  for (int size : {300, 512}) {
    auto a = train_bpe_tokenizer({corpus}, size);
    ASSERT_TRUE(a.ok()) << a.message();
    auto b = train_bpe_tokenizer({corpus}, size);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->dump(), b->dump());
    auto t = Tokenizer::from_json_text(a->dump(), "trained");
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(t->vocab_size(), size);
    for (int32_t id = 0; id < size; ++id) EXPECT_TRUE(t->is_valid_id(id)) << id;
  }
}

TEST(BpeTrainer, LayoutSpecialsThenBytes) {
  auto j = train_bpe_tokenizer({testing::committed_corpus()}, 400);
  ASSERT_TRUE(j.ok());
  auto t = Tokenizer::from_json_text(j->dump(), "trained");
  ASSERT_TRUE(t.ok());
  const auto& specials = v4_special_tokens();
  for (size_t i = 0; i < specials.size(); ++i) EXPECT_EQ(t->token_id(specials[i].content), static_cast<int32_t>(i));
  EXPECT_EQ(t->token_bytes(static_cast<int32_t>(specials.size()) + 'A'), "A");
}

TEST(BpeTrainer, RejectsImpossibleSizes) {
  EXPECT_FALSE(train_bpe_tokenizer({"tiny text"}, 100).ok());   // below specials + 256 bytes
  EXPECT_FALSE(train_bpe_tokenizer({"tiny text"}, 5000).ok());  // not enough pairs to merge
}

}  // namespace
}  // namespace dsv4::tok

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/test_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsv4 {
namespace {

using tok::testing::small_tokenizer;

int32_t byte_id(const Tokenizer& t, uint8_t b) {
  return *t.token_id(tok::bytes_to_symbols(std::string(1, static_cast<char>(b))));
}

// Streams ids and checks each chunk is valid UTF-8 and the whole equals decode().
std::string stream(const Tokenizer& t, const std::vector<int32_t>& ids, bool skip_special = false) {
  StreamDecoder d(t, skip_special);
  std::string all;
  for (int32_t id : ids) {
    std::string chunk = d.push(id);
    EXPECT_TRUE(tok::is_valid_utf8(chunk));
    all += chunk;
  }
  all += d.finish();
  EXPECT_EQ(all, t.decode(ids, skip_special));
  return all;
}

TEST(StreamDecoder, HoldsMultiByteCharactersUntilComplete) {
  const Tokenizer& t = small_tokenizer();
  StreamDecoder d(t);
  EXPECT_EQ(d.push(byte_id(t, 0xF0)), "");
  EXPECT_EQ(d.push(byte_id(t, 0x9F)), "");
  EXPECT_EQ(d.push(byte_id(t, 0x98)), "");
  EXPECT_EQ(d.pending_bytes(), 3u);
  EXPECT_EQ(d.push(byte_id(t, 0x80)), "😀");
  EXPECT_EQ(d.finish(), "");
}

// Every split of every multi-byte sequence, as byte tokens and as whatever tokens encode gives.
TEST(StreamDecoder, EverySplitOfMultiByteTextMatchesWholeDecode) {
  const Tokenizer& t = small_tokenizer();
  const std::string text = "aé你😀👨‍👩‍👧\xEF\xBF\xBD z";
  std::vector<int32_t> bytes;
  for (char c : text) bytes.push_back(byte_id(t, static_cast<uint8_t>(c)));
  EXPECT_EQ(stream(t, bytes), text);
  EXPECT_EQ(stream(t, t.encode(text)), text);
  // Each prefix of the byte sequence: the held tail flushes as U+FFFD exactly like decode().
  for (size_t cut = 0; cut <= bytes.size(); ++cut)
    stream(t, std::vector<int32_t>(bytes.begin(), bytes.begin() + cut));
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementsAsInWholeDecode) {
  const Tokenizer& t = small_tokenizer();
  std::vector<std::vector<uint8_t>> cases = {{0xE4, 0xBD, 'a'}, {0xFF}, {0xC0, 0xAF}, {0xED, 0xA0, 0x80},
                                             {0xF0, 0x9F}, {0xE4, 0xE4, 0xBD, 0xA0}, {0x80, 0x80}};
  for (const auto& c : cases) {
    std::vector<int32_t> ids;
    for (uint8_t b : c) ids.push_back(byte_id(t, b));
    stream(t, ids);
  }
}

TEST(StreamDecoder, SpecialTokensAndInvalidIds) {
  const Tokenizer& t = small_tokenizer();
  std::vector<int32_t> ids = {0, byte_id(t, 0xE4), 1, -3, byte_id(t, 0xBD), byte_id(t, 0xA0), t.vocab_size() + 7};
  EXPECT_EQ(stream(t, ids, true), "你");
  stream(t, ids, false);
}

}  // namespace
}  // namespace dsv4

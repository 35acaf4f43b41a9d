#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"

namespace dsv4::tok {
namespace {

std::string lossy(std::string_view s) {
  std::string out;
  append_lossy(out, s);
  return out;
}
const std::string R(kReplacementChar);

TEST(Utf8, LossyReplacesEachMaximalInvalidSubpart) {
  EXPECT_EQ(lossy("abc"), "abc");
  EXPECT_EQ(lossy("\xE4\xBD\xA0"), "\xE4\xBD\xA0");         // 你
  EXPECT_EQ(lossy("\xF0\x9F\x98"), R);                      // truncated 4-byte: one U+FFFD
  EXPECT_EQ(lossy("\xF0\x9F\x98x"), R + "x");
  EXPECT_EQ(lossy("\xE0\x80\x80"), R + R + R);              // overlong: E0 needs A0..BF next
  EXPECT_EQ(lossy("\xED\xA0\x80"), R + R + R);              // surrogate
  EXPECT_EQ(lossy("\xC0\xAF"), R + R);
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), R + R + R + R);      // above U+10FFFF
  EXPECT_EQ(lossy("\x80\xBF"), R + R);
  EXPECT_EQ(lossy("\xE4\xBD"), R);
  EXPECT_EQ(lossy("\xE4\xBD\xE4\xBD\xA0"), R + "\xE4\xBD\xA0");
}

TEST(Utf8, TruncatedSequenceDetection) {
  EXPECT_TRUE(is_truncated_sequence("\xE4\xBD", 0));
  EXPECT_TRUE(is_truncated_sequence("a\xF0", 1));
  EXPECT_FALSE(is_truncated_sequence("\xE4\xBD" "a", 0));
  EXPECT_FALSE(is_truncated_sequence("\xE0\x80", 0));  // can never become valid
  EXPECT_FALSE(is_truncated_sequence("\xFF", 0));
}

TEST(Utf8, EncodeDecodeEveryScalarValue) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    append_utf8(s, cp);
    char32_t back = 0;
    ASSERT_EQ(valid_sequence_length(s, 0, &back), s.size()) << std::hex << static_cast<uint32_t>(cp);
    ASSERT_EQ(static_cast<uint32_t>(back), static_cast<uint32_t>(cp));
  }
}

TEST(ByteLevel, MapsEveryByteToADistinctSymbolAndBack) {
  EXPECT_EQ(static_cast<uint32_t>(byte_to_symbol(' ')), 0x120u);  // Ġ
  EXPECT_EQ(static_cast<uint32_t>(byte_to_symbol('\n')), 0x10Au);  // Ċ
  EXPECT_EQ(static_cast<uint32_t>(byte_to_symbol('A')), uint32_t{'A'});
  EXPECT_EQ(static_cast<uint32_t>(byte_to_symbol(0xAD)), 0x143u);  // the soft hyphen is not printable
  for (int b = 0; b < 256; ++b) {
    auto back = symbol_to_byte(byte_to_symbol(static_cast<uint8_t>(b)));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, b);
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(symbols_to_bytes(bytes_to_symbols(all)), all);
  EXPECT_EQ(bytes_to_symbols(" the"), "\xC4\xA0the");
}

TEST(ByteLevel, TokenOutsideTheAlphabetDecodesToItsOwnUtf8) {
  EXPECT_EQ(symbols_to_bytes("<｜User｜>"), "<｜User｜>");
  EXPECT_EQ(symbols_to_bytes("<think>"), "<think>");
  EXPECT_FALSE(symbol_to_byte(U'\u4F60').has_value());
}

}  // namespace
}  // namespace dsv4::tok

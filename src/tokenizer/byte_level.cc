#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace dsv4::tok {
namespace {

struct Tables {
  std::array<char32_t, 256> to_symbol{};
  std::array<int16_t, 324> to_byte{};  // symbols are all < 0x144
  Tables() {
    to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      to_symbol[b] = cp;
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_symbol(uint8_t b) { return tables().to_symbol[b]; }

std::optional<uint8_t> symbol_to_byte(char32_t cp) {
  if (cp >= tables().to_byte.size() || tables().to_byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[cp]);
}

std::string bytes_to_symbols(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(out, byte_to_symbol(static_cast<uint8_t>(c)));
  return out;
}

std::string symbols_to_bytes(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size();) {
    char32_t cp = 0;
    size_t n = valid_sequence_length(token, i, &cp);
    std::optional<uint8_t> b = n ? symbol_to_byte(cp) : std::nullopt;
    if (!b) return std::string(token);
    out.push_back(static_cast<char>(*b));
    i += n;
  }
  return out;
}

}  // namespace dsv4::tok

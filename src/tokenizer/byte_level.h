// The GPT-2 byte-level alphabet: every byte maps to one printable code point (printable Latin-1
// bytes map to themselves, the rest to U+0100.. in byte order), so BPE vocabularies can be stored
// as JSON strings. Encoding maps raw bytes to these symbols; decoding maps them back.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsv4::tok {

// The code point that stands for byte b.
char32_t byte_to_symbol(uint8_t b);

// The byte a symbol stands for, or nullopt for a code point outside the alphabet.
std::optional<uint8_t> symbol_to_byte(char32_t cp);

// Raw bytes -> byte-level string (UTF-8 of the symbols).
std::string bytes_to_symbols(std::string_view bytes);

// The bytes a vocabulary entry decodes to under the ByteLevel decoder: the mapped bytes when
// every code point is in the alphabet, otherwise the entry's own UTF-8 (as Hugging Face does).
std::string symbols_to_bytes(std::string_view token);

}  // namespace dsv4::tok

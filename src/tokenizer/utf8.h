// UTF-8 helpers for the tokenizer: encoding code points, walking strings, and the lossy decoding
// rule the Hugging Face engine applies to decoded bytes (Rust's String::from_utf8_lossy: every
// maximal invalid subpart becomes one U+FFFD), which the stream decoder must reproduce exactly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsv4::tok {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Appends the UTF-8 encoding of a Unicode scalar value.
void append_utf8(std::string& out, char32_t cp);

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 if s[i..] does not start with
// a complete valid sequence. Sets *cp to the code point when valid.
size_t valid_sequence_length(std::string_view s, size_t i, char32_t* cp = nullptr);

// Length of the maximal subpart at s[i] that is a proper prefix of some valid sequence (the
// bytes from_utf8_lossy replaces with one U+FFFD). Always >= 1 when s[i] does not start a
// valid sequence.
size_t invalid_subpart_length(std::string_view s, size_t i);

// True when s[i..] is a proper prefix of a valid sequence that runs past the end of s (it could
// still become valid when more bytes arrive).
bool is_truncated_sequence(std::string_view s, size_t i);

// Appends `bytes` to `out`, replacing invalid subparts with U+FFFD (from_utf8_lossy).
void append_lossy(std::string& out, std::string_view bytes);

bool is_valid_utf8(std::string_view s);

}  // namespace dsv4::tok

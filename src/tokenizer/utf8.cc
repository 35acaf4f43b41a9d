#include "tokenizer/utf8.h"

namespace dsv4::tok {

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// Per the Unicode table of well-formed byte sequences: for lead byte b, the number of bytes of
// the sequence and the allowed range of the second byte (later bytes are always 80..BF).
struct LeadInfo {
  int len;
  uint8_t lo, hi;
};

LeadInfo lead_info(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b >= 0xE1 && b <= 0xEC) return {3, 0x80, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xEE && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};  // 80..C1, F5..FF never start a sequence
}

// Number of bytes from s[i] that agree with a valid sequence, and that sequence's length.
size_t matching_prefix(std::string_view s, size_t i, int* need) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  LeadInfo li = lead_info(p[i]);
  *need = li.len;
  if (li.len <= 1) return li.len;
  size_t n = 1;
  if (i + n < s.size() && p[i + n] >= li.lo && p[i + n] <= li.hi) {
    ++n;
    while (n < static_cast<size_t>(li.len) && i + n < s.size() && (p[i + n] & 0xC0) == 0x80) ++n;
  }
  return n;
}

}  // namespace

size_t valid_sequence_length(std::string_view s, size_t i, char32_t* cp) {
  int need = 0;
  size_t n = matching_prefix(s, i, &need);
  if (need == 0 || n != static_cast<size_t>(need)) return 0;
  if (cp) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + i;
    char32_t c = need == 1 ? p[0] : need == 2 ? (p[0] & 0x1F) : need == 3 ? (p[0] & 0x0F) : (p[0] & 0x07);
    for (int k = 1; k < need; ++k) c = (c << 6) | (p[k] & 0x3F);
    *cp = c;
  }
  return n;
}

size_t invalid_subpart_length(std::string_view s, size_t i) {
  int need = 0;
  size_t n = matching_prefix(s, i, &need);
  return n == 0 ? 1 : n;
}

bool is_truncated_sequence(std::string_view s, size_t i) {
  int need = 0;
  size_t n = matching_prefix(s, i, &need);
  return need > 1 && n < static_cast<size_t>(need) && i + n == s.size();
}

void append_lossy(std::string& out, std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    size_t start = i;
    while (i < bytes.size() && static_cast<uint8_t>(bytes[i]) < 0x80) ++i;  // ASCII fast path
    if (i > start) out.append(bytes.substr(start, i - start));
    if (i >= bytes.size()) break;
    size_t n = valid_sequence_length(bytes, i);
    if (n) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out.append(kReplacementChar);
      i += invalid_subpart_length(bytes, i);
    }
  }
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = valid_sequence_length(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

}  // namespace dsv4::tok

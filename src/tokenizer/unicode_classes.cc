#include "tokenizer/unicode_classes.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <memory>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "tokenizer/utf8.h"

namespace dsv4::tok {
namespace {

struct CodeRange {
  char32_t lo, hi;
};

#include "tokenizer/unicode_tables.inc"

struct ClassInfo {
  char name;                      // property letter after \p
  std::span<const CodeRange> hf;  // the HF engine's set
};

constexpr std::array<ClassInfo, 5> kClasses = {{
    {'L', kHfL}, {'M', kHfM}, {'N', kHfN}, {'P', kHfP}, {'S', kHfS}}};

std::string format_range(const CodeRange& r) {
  return r.lo == r.hi ? fmt::format("\\x{{{:x}}}", static_cast<uint32_t>(r.lo))
                      : fmt::format("\\x{{{:x}}}-\\x{{{:x}}}", static_cast<uint32_t>(r.lo),
                                    static_cast<uint32_t>(r.hi));
}

// Class items (without brackets) for the code points the HF engine gives property `name` that the
// linked PCRE2's \p{name} does not match. Found by one scan: every HF member, matched against
// [^\p{name}].
std::string compute_missing_items(const ClassInfo& info) {
  std::string subject;
  for (const CodeRange& r : info.hf)
    for (char32_t c = r.lo; c <= r.hi; ++c) append_utf8(subject, c);
  std::string pat = fmt::format("[^\\p{{{}}}]", info.name);
  int err = 0;
  PCRE2_SIZE erroff = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &erroff, nullptr);
  if (!re) return "";
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
  std::vector<CodeRange> missing;
  size_t pos = 0;
  while (pos < subject.size() &&
         pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), pos,
                     PCRE2_NO_UTF_CHECK, md, nullptr) > 0) {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    char32_t cp = 0;
    valid_sequence_length(subject, ov[0], &cp);
    if (!missing.empty() && missing.back().hi + 1 == cp) missing.back().hi = cp;
    else missing.push_back({cp, cp});
    pos = ov[1];
  }
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  std::string items;
  for (const CodeRange& r : missing) items += format_range(r);
  return items;
}

// "\p{X}" plus the missing items, for use inside a character class. Computed once per process.
const std::string& class_items(size_t index) {
  static const std::array<std::string, kClasses.size()> items = [] {
    std::array<std::string, kClasses.size()> out;
    for (size_t i = 0; i < kClasses.size(); ++i)
      out[i] = fmt::format("\\p{{{}}}", kClasses[i].name) + compute_missing_items(kClasses[i]);
    return out;
  }();
  return items[index];
}

std::string space_items() {
  std::string s;
  for (const CodeRange& r : kHfSpace) s += format_range(r);
  return s;
}

// Parses the property name after "\p" / "\P" at pattern[i] (i points at 'p'/'P'); returns the
// index in kClasses or -1, and the number of pattern bytes the escape used (after the '\').
int parse_property(std::string_view pattern, size_t i, size_t* used) {
  std::string_view name;
  if (i + 1 < pattern.size() && pattern[i + 1] == '{') {
    size_t close = pattern.find('}', i + 2);
    if (close == std::string_view::npos) return -1;
    name = pattern.substr(i + 2, close - i - 2);
    *used = close - i + 1;
  } else if (i + 1 < pattern.size()) {
    name = pattern.substr(i + 1, 1);
    *used = 2;
  } else {
    return -1;
  }
  for (size_t k = 0; k < kClasses.size(); ++k)
    if (name.size() == 1 && name[0] == kClasses[k].name) return static_cast<int>(k);
  return -1;
}

}  // namespace

Result<std::string> translate_hf_regex(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  bool class_start = false;  // just after "[" or "[^": a ']' here is a literal
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 >= pattern.size()) return error("regex '{}': trailing backslash", pattern);
      char e = pattern[i + 1];
      class_start = false;
      if (e == 's' || e == 'S') {
        if (in_class && e == 'S') return error("regex '{}': \\S inside a class is not supported", pattern);
        out += in_class ? space_items() : fmt::format("[{}{}]", e == 'S' ? "^" : "", space_items());
        ++i;
        continue;
      }
      if (e == 'p' || e == 'P') {
        size_t used = 0;
        int k = parse_property(pattern, i + 1, &used);
        if (k >= 0) {
          if (e == 'P' && in_class)
            return error("regex '{}': \\P inside a class is not supported", pattern);
          const std::string& items = class_items(static_cast<size_t>(k));
          out += in_class ? items : fmt::format("[{}{}]", e == 'P' ? "^" : "", items);
          i += used;
          continue;
        }
      }
      out += c;
      out += e;
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']' && !class_start) in_class = false;
      else if (c == '[' && !(i + 1 < pattern.size() && pattern[i + 1] == ':'))
        return error("regex '{}': nested character classes are not supported", pattern);
      class_start = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      class_start = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      continue;
    }
    out += c;
  }
  if (in_class) return error("regex '{}': unterminated character class", pattern);
  return out;
}

bool hf_class_contains(std::string_view cls, char32_t cp) {
  auto in = [cp](std::span<const CodeRange> set) {
    auto it = std::upper_bound(set.begin(), set.end(), cp,
                               [](char32_t v, const CodeRange& r) { return v < r.lo; });
    return it != set.begin() && cp <= std::prev(it)->hi;
  };
  if (cls == "Space") return in(kHfSpace);
  for (const ClassInfo& info : kClasses)
    if (cls.size() == 1 && cls[0] == info.name) return in(info.hf);
  return false;
}

}  // namespace dsv4::tok

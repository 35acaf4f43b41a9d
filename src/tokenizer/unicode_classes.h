// Translates a Hugging Face pre-tokenizer regex (written for Oniguruma, the engine inside the HF
// `tokenizers` library) into a PCRE2 pattern that matches the same code points.
//
// Why: PCRE2 ships older Unicode tables than the HF engine (Debian's 10.42 has Unicode 14, the HF
// engine's Oniguruma has Unicode 16), and the two disagree on \s (PCRE2 with UCP counts U+180E as
// space). So \p{L} \p{M} \p{N} \p{P} \p{S} gain the code points the HF engine puts in them and the
// linked PCRE2 lacks, and \s / \S become explicit classes of the HF engine's whitespace. The HF
// sets come from unicode_tables.inc, generated from the HF engine by tests/js/gen_unicode_tables.js.
#pragma once
#include <string>
#include <string_view>

#include "base/status.h"

namespace dsv4::tok {

Result<std::string> translate_hf_regex(std::string_view pattern);

// The HF engine's membership of code point cp in class "L", "M", "N", "P", "S" or "Space"
// (for tests).
bool hf_class_contains(std::string_view cls, char32_t cp);

}  // namespace dsv4::tok

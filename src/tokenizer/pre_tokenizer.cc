#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace dsv4::tok {

struct Span {
  size_t begin, end;
  bool flag;  // is_match, then should_remove
};

struct SplitScratch {
  pcre2_match_data* md = nullptr;
  std::vector<std::vector<Span>> matches, spans;  // per step
};

// A PCRE2 pattern compiled (and JIT-compiled) once; matching allocates its own match data so a
// compiled regex is shared freely between threads.
class CompiledRegex {
 public:
  static Result<std::shared_ptr<const CompiledRegex>> compile(std::string_view hf_pattern) {
    DSV4_ASSIGN_OR_RETURN(std::string pcre_pattern, translate_hf_regex(hf_pattern));
    int err = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre_pattern.data()),
                                     pcre_pattern.size(), PCRE2_UTF | PCRE2_UCP, &err, &erroff, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return error("pre-tokenizer regex '{}': {} at offset {}", hf_pattern,
                   reinterpret_cast<const char*>(msg), erroff);
    }
    auto re = std::shared_ptr<CompiledRegex>(new CompiledRegex());
    re->code_ = code;
    re->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return std::shared_ptr<const CompiledRegex>(std::move(re));
  }
  ~CompiledRegex() { pcre2_code_free(code_); }
  CompiledRegex(const CompiledRegex&) = delete;
  CompiledRegex& operator=(const CompiledRegex&) = delete;

  // Finds the next match in subject at or after `start`; false when there is none. The subject
  // must be valid UTF-8 (the tokenizer checks once per encode).
  bool find(std::string_view subject, size_t start, pcre2_match_data* md, size_t* ms, size_t* me) const {
    auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    int rc = jit_ ? pcre2_jit_match(code_, s, subject.size(), start, 0, md, nullptr)
                  : pcre2_match(code_, s, subject.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) return false;  // 0 only means the ovector is too small for capture groups
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    return true;
  }
 private:
  CompiledRegex() = default;
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

namespace {

Result<SplitBehavior> parse_behavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return error("pre-tokenizer Split: unknown behavior '{}'", s);
}

Status add_steps(const nlohmann::json& j, std::vector<SplitStep>& steps, bool* saw_byte_level) {
  if (!j.is_object() || !j.contains("type")) return error("pre_tokenizer: expected an object with a type");
  std::string type = j.at("type").get<std::string>();
  if (*saw_byte_level) return error("pre_tokenizer: '{}' after ByteLevel is not supported", type);
  if (type == "Sequence") {
    for (const auto& sub : j.at("pretokenizers")) DSV4_TRY(add_steps(sub, steps, saw_byte_level));
    return ok_status();
  }
  if (type == "Split") {
    SplitStep step;
    const auto& pat = j.at("pattern");
    if (pat.contains("Regex")) {
      DSV4_ASSIGN_OR_RETURN(step.regex, CompiledRegex::compile(pat.at("Regex").get<std::string>()));
    } else if (pat.contains("String")) {
      step.literal = pat.at("String").get<std::string>();
      if (step.literal.empty()) return error("pre_tokenizer Split: empty String pattern");
    } else {
      return error("pre_tokenizer Split: pattern needs Regex or String");
    }
    DSV4_ASSIGN_OR_RETURN(step.behavior, parse_behavior(j.at("behavior").get<std::string>()));
    step.invert = j.value("invert", false);
    steps.push_back(std::move(step));
    return ok_status();
  }
  if (type == "ByteLevel") {
    if (j.value("add_prefix_space", false)) return error("pre_tokenizer ByteLevel: add_prefix_space is not supported");
    if (j.value("use_regex", true)) {
      // GPT-2's split, which ByteLevel applies first when use_regex is on.
      SplitStep step;
      DSV4_ASSIGN_OR_RETURN(step.regex, CompiledRegex::compile(
          R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"));
      steps.push_back(std::move(step));
    }
    *saw_byte_level = true;
    return ok_status();
  }
  return error("pre_tokenizer: type '{}' is not supported", type);
}

// HF's find_matches: alternating unmatched gaps and matches covering the whole piece.
void find_matches(const SplitStep& step, std::string_view piece, pcre2_match_data* md, std::vector<Span>& out) {
  size_t prev = 0, pos = 0;
  while (pos <= piece.size()) {
    size_t ms = 0, me = 0;
    if (step.regex) {
      if (!step.regex->find(piece, pos, md, &ms, &me)) break;
    } else {
      ms = piece.find(step.literal, pos);
      if (ms == std::string_view::npos) break;
      me = ms + step.literal.size();
    }
    if (ms != prev) out.push_back({prev, ms, false});
    out.push_back({ms, me, true});
    prev = me;
    if (me == ms) {  // empty match: step over one code point
      if (me >= piece.size()) break;
      size_t n = valid_sequence_length(piece, me);
      pos = me + (n ? n : 1);
    } else {
      pos = me;
    }
  }
  if (prev != piece.size()) out.push_back({prev, piece.size(), false});
}

// HF's SplitDelimiterBehavior, turning (offsets, is_match) into (offsets, should_remove).
void apply_behavior(SplitBehavior b, std::vector<Span>& m, std::vector<Span>& out) {
  out.clear();
  switch (b) {
    case SplitBehavior::kIsolated:
      for (Span s : m) out.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::kRemoved:
      out = m;
      break;
    case SplitBehavior::kContiguous: {
      int prev = -1;
      for (Span s : m) {
        if (prev == static_cast<int>(s.flag) && !out.empty()) out.back().end = s.end;
        else out.push_back({s.begin, s.end, false});
        prev = s.flag;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool prev = false;
      for (Span s : m) {
        if (s.flag && !prev && !out.empty()) out.back().end = s.end;
        else out.push_back({s.begin, s.end, false});
        prev = s.flag;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev = false;
      for (auto it = m.rbegin(); it != m.rend(); ++it) {
        if (it->flag && !prev && !out.empty()) out.back().begin = it->begin;
        else out.push_back({it->begin, it->end, false});
        prev = it->flag;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
}

}  // namespace

Result<PreTokenizer> PreTokenizer::from_json(const nlohmann::json& j) {
  PreTokenizer p;
  bool saw_byte_level = false;
  try {
    DSV4_TRY(add_steps(j, p.steps_, &saw_byte_level));
  } catch (const nlohmann::json::exception& e) {
    return error("pre_tokenizer: {}", e.what());
  }
  if (!saw_byte_level) return error("pre_tokenizer: only byte-level tokenizers (ending in ByteLevel) are supported");
  return p;
}

nlohmann::json PreTokenizer::deepseek_json() {
  auto split = [](const char* re) {
    return nlohmann::json{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  return {{"type", "Sequence"},
          {"pretokenizers",
           {split(R"(\p{N}{1,3})"), split("[一-龥぀-ゟ゠-ヿ]+"),
            split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                  " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
}

void PreTokenizer::split_step(size_t k, std::string_view piece, SplitScratch& sc, const PieceSink& sink) const {
  if (k == steps_.size()) {
    sink(piece);
    return;
  }
  const SplitStep& step = steps_[k];
  std::vector<Span>& matches = sc.matches[k];
  std::vector<Span>& spans = sc.spans[k];
  matches.clear();
  find_matches(step, piece, sc.md, matches);
  if (step.invert)
    for (Span& s : matches) s.flag = !s.flag;
  apply_behavior(step.behavior, matches, spans);
  for (size_t i = 0; i < spans.size(); ++i) {  // spans may not be held by reference across recursion
    const Span s = sc.spans[k][i];
    if (!s.flag && s.end > s.begin) split_step(k + 1, piece.substr(s.begin, s.end - s.begin), sc, sink);
  }
}

void PreTokenizer::for_each_piece(std::string_view text, const PieceSink& sink) const {
  // Depth first: each piece goes through the remaining steps (and to the sink) at once, so memory
  // stays bounded by the number of steps, not the length of the text.
  SplitScratch sc;
  sc.md = pcre2_match_data_create(1, nullptr);  // only whole-match offsets are read
  sc.matches.resize(steps_.size());
  sc.spans.resize(steps_.size());
  split_step(0, text, sc, sink);
  pcre2_match_data_free(sc.md);
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  for_each_piece(text, [&out](std::string_view p) { out.push_back(p); });
}

}  // namespace dsv4::tok

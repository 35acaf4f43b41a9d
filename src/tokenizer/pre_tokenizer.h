// The pre-tokenizer of Hugging Face byte-level BPE tokenizers: a sequence of Split steps (regex
// or literal pattern, with HF's delimiter behaviours) ending in ByteLevel. Each step runs on
// every piece the previous step produced, separately (so look-aheads never see past a piece),
// exactly as the HF engine does. Regexes run on PCRE2 with JIT in UTF + UCP mode after
// translation to the HF engine's character classes (unicode_classes.h).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace dsv4::tok {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

class CompiledRegex;

struct SplitStep {
  std::shared_ptr<const CompiledRegex> regex;  // null for a literal pattern
  std::string literal;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
};

class PreTokenizer {
 public:
  // From the "pre_tokenizer" object of a tokenizer.json (Sequence / Split / ByteLevel).
  static Result<PreTokenizer> from_json(const nlohmann::json& j);
  // The DeepSeek V3/V4 pre-tokenizer (the three Splits of spec §5.1 + ByteLevel), as JSON.
  static nlohmann::json deepseek_json();

  using PieceSink = std::function<void(std::string_view)>;
  // Calls `sink` with each piece of `text` (views into it), in order.
  void for_each_piece(std::string_view text, const PieceSink& sink) const;
  // Appends the pieces of `text` to `out`.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

  size_t num_steps() const { return steps_.size(); }

 private:
  void split_step(size_t k, std::string_view piece, struct SplitScratch& sc, const PieceSink& sink) const;
  std::vector<SplitStep> steps_;
};

}  // namespace dsv4::tok

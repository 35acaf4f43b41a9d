// Token id -> bytes view of a tokenizer for masking, prepared once per model: byte tries over the
// ordinary tokens (preorder arrays, so a depth-first walk is a loop that skips rejected subtrees)
// and over the added tokens (matched only where the grammar spells their text out), plus for each
// kind of free text the tokens that are "plain" there (they leave a neutral text state neutral:
// complete UTF-8, no quote / backslash / control / marker bytes) with a trie of the others.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "constrain/text_matcher.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::constrain {

struct TokenTrie {
  // Node 0 is the root (no byte). Node i's subtree is [i, end[i]); its tokens are
  // toks[tok_begin[i] .. tok_begin[i + 1]).
  std::vector<uint8_t> byte;
  std::vector<uint16_t> depth;
  std::vector<int32_t> end;
  std::vector<int32_t> tok_begin;
  std::vector<int32_t> toks;
  int max_depth = 0;
  int32_t size() const { return static_cast<int32_t>(byte.size()); }
};

class Vocabulary {
 public:
  // eos_id: the model's end-of-sentence id (allowed only where the output is complete);
  // model_vocab_size: the logits' length (ids past the tokenizer are padding: never allowed).
  // Fails if the tokenizer cannot spell every single byte (not byte-level: no budget guarantee).
  static Result<std::shared_ptr<const Vocabulary>> build(const Tokenizer& tok, int32_t eos_id, int64_t model_vocab_size);
  // The same from raw token bytes (tests, benchmarks); added[i] != 0 marks added tokens.
  static Result<std::shared_ptr<const Vocabulary>> from_tokens(std::vector<std::string> bytes,
                                                               std::vector<uint8_t> added, int32_t eos_id,
                                                               int64_t model_vocab_size);

  int64_t size() const { return size_; }
  int32_t eos() const { return eos_; }
  std::string_view bytes(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < bytes_.size() ? std::string_view(bytes_[id]) : std::string_view();
  }
  const TokenTrie& ordinary() const { return ordinary_; }
  const TokenTrie& added() const { return added_; }
  const std::vector<int32_t>& plain(TextKind k) const { return plain_[static_cast<int>(k)]; }
  const TokenTrie& not_plain(TextKind k) const { return not_plain_[static_cast<int>(k)]; }
  // Most code points in one plain token of this kind (a string's maxLength room must cover it).
  uint32_t max_plain_chars(TextKind k) const { return max_plain_chars_[static_cast<int>(k)]; }

 private:
  int64_t size_ = 0;
  int32_t eos_ = -1;
  std::vector<std::string> bytes_;
  TokenTrie ordinary_, added_;
  std::vector<int32_t> plain_[kTextKinds];
  TokenTrie not_plain_[kTextKinds];
  uint32_t max_plain_chars_[kTextKinds] = {};
};

// A preorder byte trie over (bytes, id) pairs (empty byte strings are left out).
TokenTrie build_token_trie(std::vector<std::pair<std::string_view, int32_t>> toks);

}  // namespace dsv4::constrain

// The TokenConstraint behind constrain.h: a Recognizer state advanced by accepted tokens, and a
// mask computed by walking the vocabulary's byte trie depth first from that state.
#pragma once
#include <memory>
#include <span>

#include "constrain/grammar.h"
#include "constrain/recognizer.h"
#include "constrain/vocabulary.h"
#include "engine/constraint.h"

namespace dsv4::constrain {

class GrammarConstraint final : public engine::TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<const Vocabulary> v, std::shared_ptr<const Grammar> g);

  void mask(std::span<float> logits, int64_t remaining) override;
  void accept(int32_t token) override;
  std::unique_ptr<engine::TokenConstraint> clone() const override;
  // One token per byte of the shortest completion (as mask() counts), plus end-of-sentence.
  int64_t min_tokens() const override { return done_ ? 0 : min_bytes_to_finish() + 1; }

  // The end-of-sentence token was accepted.
  bool finished() const { return done_; }
  // A token the mask did not allow was accepted (from then on only end-of-sentence is allowed).
  bool broken() const { return broken_; }
  // Fewest bytes that complete the output from here (0: end-of-sentence may come next).
  int64_t min_bytes_to_finish() const { return done_ || broken_ ? 0 : rec_.dist(state_); }

 private:
  // Allows the tokens of `trie` (from the current state) whose completion still fits.
  void walk(const TokenTrie& trie, bool added, int64_t limit);

  std::shared_ptr<const Vocabulary> v_;
  std::shared_ptr<const Grammar> g_;
  Recognizer rec_;
  State state_;
  bool done_ = false, broken_ = false;
};

}  // namespace dsv4::constrain

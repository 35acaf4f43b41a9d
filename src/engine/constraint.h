// Constrained decoding hook: a request may carry a TokenConstraint that restricts which token can
// come next (a grammar for JSON, a JSON schema, forced DSML tool calls). The engine knows only this
// interface; the grammars live in src/constrain. Each choice of a request gets its own clone, so a
// constraint is stateful: mask() looks at the state after the tokens accepted so far, accept()
// advances it by the token actually drawn.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

namespace dsv4::engine {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits of the tokens that may not come next to -infinity. `remaining` is how many
  // tokens the choice may still generate (max_tokens and context), so a constraint can steer to
  // the shortest valid ending in time. Leaving no token allowed is a bug in the constraint; the
  // engine ends the request with an error instead of drawing.
  virtual void mask(std::span<float> logits, int64_t remaining) = 0;
  // Advances the state by the token drawn (always one mask() left allowed).
  virtual void accept(int32_t token) = 0;
  // The fewest tokens (end-of-sentence included) within which mask() guarantees a finished
  // output from the current state; a request whose max_tokens is below it cannot complete and is
  // refused up front. An upper bound is fine (it is what mask() plans with).
  virtual int64_t min_tokens() const = 0;
  // An independent copy in the same state (one per choice of an n > 1 request).
  virtual std::unique_ptr<TokenConstraint> clone() const = 0;
};

}  // namespace dsv4::engine

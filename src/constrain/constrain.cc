#include "constrain/constrain.h"

#include <limits>
#include <vector>

#include "constrain/grammar_constraint.h"
#include "constrain/grammars.h"

namespace dsv4::constrain {
namespace {

// Per masking thread: one recognizer state per trie depth, the allowed flags, and the fallback
// tokens (those that come closest to the end when none fits the budget).
struct Scratch {
  std::vector<State> states;
  std::vector<uint8_t> allowed;
  std::vector<int32_t> fallback;
  int64_t best = kFar;
  bool any = false;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

GrammarConstraint::GrammarConstraint(std::shared_ptr<const Vocabulary> v, std::shared_ptr<const Grammar> g)
    : v_(std::move(v)), g_(std::move(g)), rec_(*g_) {
  rec_.start(state_);
}

std::unique_ptr<engine::TokenConstraint> GrammarConstraint::clone() const {
  return std::make_unique<GrammarConstraint>(*this);
}

void GrammarConstraint::accept(int32_t token) {
  if (done_ || broken_) return;
  if (token == v_->eos()) {
    done_ = true;
    broken_ = !rec_.can_end(state_);
    return;
  }
  const std::string_view bytes = v_->bytes(token);
  if (bytes.empty() || !rec_.feed(state_, bytes)) broken_ = true;
}

void GrammarConstraint::walk(const TokenTrie& trie, bool added, int64_t limit) {
  Scratch& sc = scratch();
  if (sc.states.size() < static_cast<size_t>(trie.max_depth) + 1) sc.states.resize(trie.max_depth + 1);
  sc.states[0].copy_from(state_);
  if (added) sc.states[0].reset_free();
  const int64_t n = static_cast<int64_t>(sc.allowed.size());
  for (int32_t i = 1; i < trie.size();) {
    const int d = trie.depth[i];
    if (!rec_.step(sc.states[d - 1], trie.byte[i], sc.states[d])) {
      i = trie.end[i];  // no token below this prefix can fit
      continue;
    }
    const int32_t tb = trie.tok_begin[i], te = trie.tok_begin[i + 1];
    if (tb != te && (!added || rec_.literal_only(sc.states[d]))) {
      const int64_t dist = rec_.dist(sc.states[d]);
      for (int32_t k = tb; k < te; ++k) {
        const int32_t id = trie.toks[k];
        if (id >= n) continue;
        if (dist <= limit) {
          sc.allowed[id] = 1;
          sc.any = true;
        } else if (dist <= sc.best) {
          if (dist < sc.best) sc.fallback.clear();
          sc.best = dist;
          sc.fallback.push_back(id);
        }
      }
    }
    ++i;
  }
}

void GrammarConstraint::mask(std::span<float> logits, int64_t remaining) {
  Scratch& sc = scratch();
  const auto n = static_cast<int64_t>(logits.size());
  sc.allowed.assign(n, 0);
  sc.fallback.clear();
  sc.best = kFar;
  sc.any = false;
  const int32_t eos = v_->eos();
  if (done_ || broken_) {
    if (eos < n) sc.allowed[eos] = 1;
  } else {
    // After the token comes at least its shortest completion (one token per byte) and the
    // end-of-sentence token: dist + 1 <= remaining - 1.
    const int64_t limit = remaining - 2;
    if (rec_.can_end(state_) && eos < n) {
      sc.allowed[eos] = 1;
      sc.any = true;
    }
    const TokenTrie* ordinary = &v_->ordinary();
    TextKind kind;
    uint32_t room;
    // Inside free text at a neutral point, every plain token keeps the state as it is (or brings
    // a minLength closer), so it is allowed without a walk; only the other tokens are walked.
    if (rec_.neutral_text(state_, &kind, &room) && room >= v_->max_plain_chars(kind) && rec_.dist(state_) <= limit) {
      for (int32_t id : v_->plain(kind))
        if (id < n) sc.allowed[id] = 1;
      sc.any = sc.any || !v_->plain(kind).empty();
      ordinary = &v_->not_plain(kind);
    }
    walk(*ordinary, false, limit);
    walk(v_->added(), true, limit);
    // Out of budget already (remaining below the shortest completion): get as close as possible.
    if (!sc.any)
      for (int32_t id : sc.fallback) sc.allowed[id] = 1;
  }
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i)
    if (!sc.allowed[i]) logits[i] = kNegInf;
}

Result<std::unique_ptr<engine::TokenConstraint>> json_output(std::shared_ptr<const Vocabulary> v,
                                                             std::string_view schema_json, bool thinking) {
  if (!v) return error("json_output: no vocabulary");
  DSV4_ASSIGN_OR_RETURN(std::shared_ptr<const Grammar> g, json_output_grammar(schema_json, thinking));
  return std::unique_ptr<engine::TokenConstraint>(std::make_unique<GrammarConstraint>(std::move(v), std::move(g)));
}

Result<std::unique_ptr<engine::TokenConstraint>> tool_calls(std::shared_ptr<const Vocabulary> v,
                                                            std::string_view tools_json,
                                                            std::optional<std::string> only_name, bool thinking,
                                                            bool parallel) {
  if (!v) return error("tool_calls: no vocabulary");
  DSV4_ASSIGN_OR_RETURN(std::shared_ptr<const Grammar> g, tool_calls_grammar(tools_json, only_name, thinking, parallel));
  return std::unique_ptr<engine::TokenConstraint>(std::make_unique<GrammarConstraint>(std::move(v), std::move(g)));
}

}  // namespace dsv4::constrain

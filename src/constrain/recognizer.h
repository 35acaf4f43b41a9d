// Byte-level recognizer of a Grammar: a pushdown automaton whose state is a few small explicit
// stacks ("threads", one per live alternative of an anyOf), copied cheaply so that masking can
// walk the vocabulary's byte trie depth first, one state per depth. No recursion at run time.
//
// A thread's stack holds one Frame per open node. Frames whose node can end without consuming
// (a number, a literal that a longer literal extends, a finished sequence) leave on the next
// byte they cannot take, and pass that byte on to the frame below. The symbol kEnd ("the output
// ends here") drives the same mechanism: a thread accepts when its stack empties on it.
#pragma once
#include <cstdint>
#include <string_view>

#include "constrain/grammar.h"

namespace dsv4::constrain {

inline constexpr int kMaxDepth = 32;
inline constexpr int kMaxThreads = 8;
// Alternatives that open a container are only taken below this height, so the recursive "any
// JSON value" cannot overflow a stack (deeper values are scalars).
inline constexpr int kContainerCap = kMaxDepth - 4;
inline constexpr int kEnd = 256;

struct Frame {
  uint16_t node;
  uint16_t a;  // phase / position
  uint32_t b;  // trie node, count, property index
  uint64_t c;  // used-key bits, text matcher node and UTF-8 state
};

struct Thread {
  uint16_t height = 0;
  // Bytes consumed as free content (strings, reasoning, raw values) since the caller reset it;
  // an added token (e.g. "</think>", "｜DSML｜") is only allowed where none of it is free text.
  uint16_t free = 0;
  Frame f[kMaxDepth];
};

struct State {
  uint8_t n = 0;
  Thread t[kMaxThreads];

  // Copies only the live part (a full copy is ~4 KiB; the used part is usually ~100 bytes).
  void copy_from(const State& o);
  void reset_free();
};

class Recognizer {
 public:
  explicit Recognizer(const Grammar& g) : g_(&g) {}

  void start(State& s) const;
  // out = the successors of `in` on symbol `sym` (a byte or kEnd); false when none survives.
  bool step(const State& in, int sym, State& out) const;
  // Feeds bytes in place (tests, accept()); false (state unchanged past the failing byte) if rejected.
  bool feed(State& s, std::string_view bytes) const;
  bool can_end(const State& s) const;
  // Fewest bytes that complete the output (kFar if the state is dead).
  int64_t dist(const State& s) const;
  // Some thread consumed none of the bytes since reset_free() as free content, except the start
  // of a terminator it is committed to finish.
  bool literal_only(const State& s) const;
  // When the state is one thread inside free text at a neutral point (character boundary, no
  // escape, no marker started): its kind and how many more code points it may take.
  bool neutral_text(const State& s, TextKind* kind, uint32_t* room) const;

 private:
  Frame init(NodeId id) const;
  bool push(Thread& t, NodeId id) const;
  bool run(Thread& t, int s, State& out) const;
  bool string_step(Thread& t, Frame& f, const StringSpec& sp, int s) const;
  bool text_step(Thread& t, Frame& f, TextKind kind, int s) const;
  int number_step(Thread& t, Frame& f, bool integer, int s) const;
  int64_t rem(const Frame& f) const;
  int64_t thread_dist(const Thread& t) const;

  const Grammar* g_;
};

}  // namespace dsv4::constrain

// Free text inside a grammar (JSON string contents, the reasoning before "</think>", raw DSML
// parameter values) is sampled freely, with two guards tracked byte by byte so that tokens may
// split characters and markers anywhere:
//  * UTF-8 validity (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF), because
//    the output is parsed as JSON / UTF-8 text afterwards;
//  * an Aho-Corasick automaton over the chat markers ("<think>", "｜DSML｜", "<｜end▁of▁sentence｜>",
//    ...) that free text may not contain: the completion parser would read them as structure. The
//    same automaton recognises the text's terminator (e.g. "</think>"), which may itself contain a
//    forbidden marker ("</｜DSML｜parameter>" contains "｜DSML｜"): once the text ends in such a
//    started terminator, the only way on is to finish it ("committed" nodes).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv4::constrain {

// UTF-8 decoder state in one byte: bits 0-1 = continuation bytes still due, bits 2-4 = the range
// the next one must fall in (0: 80-BF, 1: A0-BF, 2: 80-9F, 3: 90-BF, 4: 80-8F).
namespace utf8 {
inline int need(uint8_t st) { return st & 3; }
// The state after byte b, or -1 when b is not valid here.
int step(uint8_t st, uint8_t b);
}  // namespace utf8

// The three kinds of free text; each has one shared matcher.
enum class TextKind : uint8_t { kJsonString, kReasoning, kDsmlValue };
inline constexpr int kTextKinds = 3;

// Bytes free text of this kind may contain at all (before the UTF-8 and marker checks): JSON
// string contents exclude '"', '\\' (handled as structure) and control characters; the other
// texts exclude control characters other than tab, newline and carriage return.
bool content_byte_ok(TextKind kind, uint8_t b);

class TextMatcher {
 public:
  // forbidden: texts that may not occur; terminator: ends the text (empty: none).
  TextMatcher(const std::vector<std::string>& forbidden, std::string terminator);

  static const TextMatcher& get(TextKind kind);

  static constexpr uint16_t kRoot = 0;
  enum class Move : uint8_t { kReject, kNext, kEnd };
  // One byte from node `n`: rejected, on to *next, or the terminator is complete (*next = root).
  Move step(uint16_t n, uint8_t b, uint16_t* next) const;
  // The text ends inside a started terminator that contains a forbidden marker.
  bool committed(uint16_t n) const { return nodes_[n].committed; }
  int depth(uint16_t n) const { return nodes_[n].depth; }
  // Fewest bytes that end the text from node n with UTF-8 state u: the pending continuation bytes
  // and then the terminator (0 more for a text without one).
  int64_t min_finish(uint16_t n, uint8_t u) const;
  const std::string& terminator() const { return term_; }
  int size() const { return static_cast<int>(nodes_.size()); }

 private:
  struct Node {
    int32_t parent = -1;
    uint8_t byte = 0;   // edge from the parent
    int32_t fail = 0;
    uint16_t depth = 0;
    bool out = false;        // some forbidden text is a suffix of this node's text
    bool on_term = false;    // this node's text is a prefix of the terminator
    bool term_end = false;   // ... the whole terminator
    bool committed = false;  // this node's text contains a forbidden text
  };
  int64_t finish_rec(uint16_t n, uint8_t u) const;

  std::string term_;
  std::vector<Node> nodes_;
  std::vector<uint16_t> delta_;          // [node * 256 + byte]
  std::vector<int64_t> dist_;            // min_finish at a character boundary, per node
  std::vector<int64_t> finish_;          // min_finish per (node, utf8 state < 32)
};

// The chat markers free text may never contain (chat/special_tokens.h).
const std::vector<std::string>& chat_markers();

}  // namespace dsv4::constrain

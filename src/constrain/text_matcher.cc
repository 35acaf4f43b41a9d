#include "constrain/text_matcher.h"

#include <algorithm>
#include <deque>

#include "chat/special_tokens.h"

namespace dsv4::constrain {
namespace {

constexpr int64_t kFar = int64_t{1} << 40;

// Continuation-byte ranges by range id (see text_matcher.h).
constexpr uint8_t kLo[5] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr uint8_t kHi[5] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

uint8_t pack(int need, int range) { return static_cast<uint8_t>(need | (range << 2)); }

}  // namespace

namespace utf8 {
int step(uint8_t st, uint8_t b) {
  if (need(st) > 0) {
    const int r = st >> 2;
    if (b < kLo[r] || b > kHi[r]) return -1;
    return pack(need(st) - 1, 0);
  }
  if (b < 0x80) return 0;
  if (b >= 0xC2 && b <= 0xDF) return pack(1, 0);
  if (b == 0xE0) return pack(2, 1);
  if (b == 0xED) return pack(2, 2);
  if (b >= 0xE1 && b <= 0xEF) return pack(2, 0);
  if (b == 0xF0) return pack(3, 3);
  if (b >= 0xF1 && b <= 0xF3) return pack(3, 0);
  if (b == 0xF4) return pack(3, 4);
  return -1;  // continuation byte without a lead, C0/C1 (overlong) or F5-FF
}
}  // namespace utf8

bool content_byte_ok(TextKind kind, uint8_t b) {
  if (kind == TextKind::kJsonString) return b >= 0x20 && b != '"' && b != '\\';
  return b >= 0x20 || b == '\t' || b == '\n' || b == '\r';
}

const std::vector<std::string>& chat_markers() {
  static const std::vector<std::string> m = [] {
    std::vector<std::string> v = {std::string(chat::kBos),       std::string(chat::kEos),
                                  std::string(chat::kThinkStart), std::string(chat::kThinkEnd),
                                  std::string(chat::kDsml),       std::string(chat::kUser),
                                  std::string(chat::kAssistant),  std::string(chat::kLatestReminder)};
    for (const auto& t : chat::kTaskTokens) v.emplace_back(t.token);
    return v;
  }();
  return m;
}

TextMatcher::TextMatcher(const std::vector<std::string>& forbidden, std::string terminator)
    : term_(std::move(terminator)) {
  std::vector<int32_t> go(256, -1);  // goto edges while building, [node * 256 + byte]
  nodes_.emplace_back();
  auto insert = [&](std::string_view s, bool is_term) {
    int32_t n = 0;
    for (char ch : s) {
      const auto b = static_cast<uint8_t>(ch);
      if (go[n * 256 + b] < 0) {
        Node c;
        c.parent = n;
        c.byte = b;
        c.depth = static_cast<uint16_t>(nodes_[n].depth + 1);
        go[n * 256 + b] = static_cast<int32_t>(nodes_.size());
        nodes_.push_back(c);
        go.resize(nodes_.size() * 256, -1);
      }
      n = go[n * 256 + b];
      if (is_term) nodes_[n].on_term = true;
    }
    (is_term ? nodes_[n].term_end : nodes_[n].out) = true;
  };
  for (const auto& f : forbidden)
    if (!f.empty() && f != term_) insert(f, false);
  if (!term_.empty()) insert(term_, true);

  // Failure links and the full transition table, breadth first (parents before children).
  delta_.assign(nodes_.size() * 256, 0);
  std::deque<int32_t> queue;
  for (int b = 0; b < 256; ++b)
    if (int32_t c = go[b]; c >= 0) {
      delta_[b] = static_cast<uint16_t>(c);
      nodes_[c].fail = 0;
      queue.push_back(c);
    }
  while (!queue.empty()) {
    const int32_t u = queue.front();
    queue.pop_front();
    Node& nu = nodes_[u];
    nu.out = nu.out || nodes_[nu.fail].out;
    nu.committed = nu.out || nodes_[nu.parent].committed;
    for (int b = 0; b < 256; ++b) {
      const int32_t c = go[u * 256 + b];
      if (c >= 0) {
        nodes_[c].fail = delta_[nu.fail * 256 + b];
        delta_[u * 256 + b] = static_cast<uint16_t>(c);
        queue.push_back(c);
      } else {
        delta_[u * 256 + b] = delta_[nu.fail * 256 + b];
      }
    }
  }

  // Shortest way to the terminator from each node at a character boundary (Bellman-Ford: the
  // automaton is tiny). The shortest path is always the rest of the terminator, valid UTF-8.
  const size_t n = nodes_.size();
  dist_.assign(n, term_.empty() ? 0 : kFar);
  for (bool changed = !term_.empty(); changed;) {
    changed = false;
    for (size_t i = 0; i < n; ++i)
      for (int b = 0; b < 256; ++b) {
        uint16_t next;
        const Move m = step(static_cast<uint16_t>(i), static_cast<uint8_t>(b), &next);
        const int64_t d = m == Move::kEnd ? 1 : m == Move::kNext ? 1 + dist_[next] : kFar;
        if (d < dist_[i]) {
          dist_[i] = d;
          changed = true;
        }
      }
  }
  // With continuation bytes pending: the best valid continuation first (states need 1, 2, 3).
  finish_.assign(n * 32, kFar);
  for (int need = 1; need <= 3; ++need)
    for (int r = 0; r < 5; ++r)
      for (size_t i = 0; i < n; ++i) finish_[i * 32 + pack(need, r)] = finish_rec(static_cast<uint16_t>(i), pack(need, r));
}

int64_t TextMatcher::finish_rec(uint16_t n, uint8_t u) const {
  int64_t best = kFar;
  for (int b = 0x80; b < 0xC0; ++b) {
    const int nu = utf8::step(u, static_cast<uint8_t>(b));
    if (nu < 0) continue;
    uint16_t next;
    if (step(n, static_cast<uint8_t>(b), &next) != Move::kNext) continue;
    best = std::min(best, 1 + min_finish(next, static_cast<uint8_t>(nu)));
  }
  return best;
}

int64_t TextMatcher::min_finish(uint16_t n, uint8_t u) const {
  return utf8::need(u) == 0 ? dist_[n] : finish_[n * 32 + u];
}

TextMatcher::Move TextMatcher::step(uint16_t n, uint8_t b, uint16_t* next) const {
  const Node& cur = nodes_[n];
  uint16_t m = delta_[n * 256 + b];
  if (cur.committed) {
    // Inside a started terminator that already holds a forbidden text: only its next byte.
    if (!cur.on_term || cur.depth >= term_.size() || static_cast<uint8_t>(term_[cur.depth]) != b) return Move::kReject;
  }
  const Node& nm = nodes_[m];
  if (nm.term_end) {
    *next = kRoot;
    return Move::kEnd;
  }
  if (nm.committed && !nm.on_term) return Move::kReject;
  *next = m;
  return Move::kNext;
}

const TextMatcher& TextMatcher::get(TextKind kind) {
  static const TextMatcher json(chat_markers(), "");
  static const TextMatcher reasoning(chat_markers(), std::string(chat::kThinkEnd));
  static const TextMatcher dsml(chat_markers(), "<" + std::string(chat::kParamClose) + ">");
  switch (kind) {
    case TextKind::kJsonString: return json;
    case TextKind::kReasoning: return reasoning;
    case TextKind::kDsmlValue: break;
  }
  return dsml;
}

}  // namespace dsv4::constrain

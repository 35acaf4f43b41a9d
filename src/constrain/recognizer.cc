#include "constrain/recognizer.h"

#include <algorithm>
#include <cstring>

namespace dsv4::constrain {
namespace {

// String phases.
enum : uint16_t { kStrOpen, kStrBody, kStrEsc, kStrHex1, kStrHex2, kStrHex2D, kStrHex3, kStrHex4 };
// Number phases: start, after '-', after a leading 0, integer digits, after '.', fraction digits,
// after 'e', after the exponent sign, exponent digits.
enum : uint16_t { kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumE, kNumESign, kNumExp };
// Object phases.
enum : uint16_t { kObjFirst, kObjNext, kObjAfterKey, kObjAfterKeySp, kObjAfterValue, kObjFreeColon };
// Repeat phases.
enum : uint16_t { kRepFirst, kRepAfter, kRepItemDone };

constexpr uint32_t kFreeIdx = 0xFFFFFFFFu;
// Digit caps keep every number a finite double (parsers reject 1e400) and integers within int64.
constexpr uint32_t kMaxIntDigits = 15, kMaxFracDigits = 15, kMaxExpDigits = 2;

uint16_t text_node(uint64_t c) { return static_cast<uint16_t>(c & 0xFFFF); }
uint8_t text_utf8(uint64_t c) { return static_cast<uint8_t>((c >> 16) & 0xFF); }
uint64_t text_pack(uint16_t node, uint8_t u) { return node | (uint64_t{u} << 16); }

bool is_digit(int s) { return s >= '0' && s <= '9'; }
bool is_hex(int s) { return is_digit(s) || (s >= 'a' && s <= 'f') || (s >= 'A' && s <= 'F'); }

void copy_thread(Thread& dst, const Thread& src) {
  dst.height = src.height;
  dst.free = src.free;
  std::memcpy(dst.f, src.f, sizeof(Frame) * src.height);
}

bool same_thread(const Thread& a, const Thread& b) {
  return a.height == b.height && a.free == b.free && std::memcmp(a.f, b.f, sizeof(Frame) * a.height) == 0;
}

}  // namespace

void State::copy_from(const State& o) {
  n = o.n;
  for (int i = 0; i < n; ++i) copy_thread(t[i], o.t[i]);
}

void State::reset_free() {
  for (int i = 0; i < n; ++i) t[i].free = 0;
}

Frame Recognizer::init(NodeId id) const {
  Frame f{static_cast<uint16_t>(id), 0, 0, 0};
  const Node& n = g_->nodes[id];
  if (n.kind == Kind::kString && g_->strings[n.index].opened) f.a = kStrBody;
  return f;
}

bool Recognizer::push(Thread& t, NodeId id) const {
  if (t.height >= kMaxDepth) return false;
  t.f[t.height++] = init(id);
  return true;
}

void Recognizer::start(State& s) const {
  s.n = 1;
  s.t[0].height = 0;
  s.t[0].free = 0;
  push(s.t[0], g_->root);
}

bool Recognizer::step(const State& in, int sym, State& out) const {
  bool alive[kMaxThreads];
  out.n = 0;
  for (int i = 0; i < in.n && out.n < kMaxThreads; ++i) {
    const int first = out.n++;
    copy_thread(out.t[first], in.t[i]);
    // Forks made while running a thread are appended to `out` and run in turn.
    for (int j = first; j < out.n; ++j) alive[j] = run(out.t[j], sym, out);
  }
  int k = 0;
  for (int j = 0; j < out.n; ++j) {
    if (!alive[j]) continue;
    bool dup = false;
    for (int i = 0; i < k && !dup; ++i) dup = same_thread(out.t[i], out.t[j]);
    if (dup) continue;
    if (k != j) copy_thread(out.t[k], out.t[j]);
    ++k;
  }
  out.n = static_cast<uint8_t>(k);
  return k > 0;
}

bool Recognizer::feed(State& s, std::string_view bytes) const {
  thread_local State tmp;
  for (char ch : bytes) {
    if (!step(s, static_cast<uint8_t>(ch), tmp)) return false;
    s.copy_from(tmp);
  }
  return true;
}

bool Recognizer::can_end(const State& s) const {
  thread_local State scratch;  // kEnd never forks; run() only needs somewhere to put forks
  thread_local Thread t;
  for (int i = 0; i < s.n; ++i) {
    copy_thread(t, s.t[i]);
    scratch.n = 0;
    if (run(t, kEnd, scratch)) return true;
  }
  return false;
}

bool Recognizer::literal_only(const State& s) const {
  for (int i = 0; i < s.n; ++i) {
    const Thread& t = s.t[i];
    int free = t.free;
    if (t.height > 0) {
      const Frame& top = t.f[t.height - 1];
      const Node& n = g_->nodes[top.node];
      if (n.kind == Kind::kText) {
        const TextMatcher& m = TextMatcher::get(g_->texts[n.index]);
        if (m.committed(text_node(top.c))) free -= m.depth(text_node(top.c));
      }
    }
    if (free <= 0) return true;
  }
  return false;
}

bool Recognizer::neutral_text(const State& s, TextKind* kind, uint32_t* room) const {
  if (s.n != 1 || s.t[0].height == 0) return false;
  const Frame& f = s.t[0].f[s.t[0].height - 1];
  if (text_utf8(f.c) != 0 || text_node(f.c) != TextMatcher::kRoot) return false;
  const Node& n = g_->nodes[f.node];
  if (n.kind == Kind::kText) {
    *kind = g_->texts[n.index];
    *room = kUnbounded;
    return true;
  }
  if (n.kind != Kind::kString || f.a != kStrBody) return false;
  *kind = TextKind::kJsonString;
  *room = g_->strings[n.index].max_chars - f.b;
  return true;
}

bool Recognizer::run(Thread& t, int s, State& out) const {
  const Grammar& g = *g_;
  for (;;) {
    if (t.height == 0) return s == kEnd;
    Frame& f = t.f[t.height - 1];
    const Node& nd = g.nodes[f.node];
    switch (nd.kind) {
      case Kind::kLit: {
        const std::string& lit = g.lits[nd.index];
        if (s == kEnd || static_cast<uint8_t>(lit[f.a]) != s) return false;
        if (++f.a == lit.size()) --t.height;
        return true;
      }
      case Kind::kLitSet: {
        const LitSetSpec& ls = g.litsets[nd.index];
        const int32_t c = s == kEnd ? -1 : ls.trie.child(static_cast<int32_t>(f.b), static_cast<uint8_t>(s));
        const int32_t at = c >= 0 ? c : static_cast<int32_t>(f.b);
        if (c >= 0) f.b = static_cast<uint32_t>(c);
        if (c < 0 && ls.trie.entry(at) < 0) return false;
        if (c >= 0 && !ls.trie.leaf(c)) return true;
        // An entry is complete: continue with its node, or leave.
        const NodeId cont = ls.cont[ls.trie.entry_at(ls.trie.entry(at)).tag];
        if (cont >= 0) f = init(cont); else --t.height;
        if (c >= 0) return true;
        continue;  // the byte belongs to what follows
      }
      case Kind::kSeq: {
        const auto& kids = g.seqs[nd.index];
        if (f.a == kids.size()) {
          --t.height;
          continue;
        }
        if (!push(t, kids[f.a++])) return false;
        continue;
      }
      case Kind::kChoice: {
        if (s == kEnd) return false;
        NodeId pick = -1;
        for (NodeId a : g.choices[nd.index]) {
          const Node& an = g.nodes[a];
          if (!an.first[s] || (an.container && t.height > kContainerCap)) continue;
          if (pick < 0) {
            pick = a;
          } else if (out.n < kMaxThreads) {
            Thread& nt = out.t[out.n++];
            copy_thread(nt, t);
            nt.f[nt.height - 1] = init(a);
          }
        }
        if (pick < 0) return false;
        f = init(pick);
        continue;
      }
      case Kind::kString: return string_step(t, f, g.strings[nd.index], s);
      case Kind::kText: return text_step(t, f, g.texts[nd.index], s);
      case Kind::kNumber: {
        const int r = number_step(t, f, g.numbers[nd.index], s);
        if (r < 0) return false;
        if (r > 0) return true;
        --t.height;
        continue;
      }
      case Kind::kObject: {
        const ObjectSpec& o = g.objects[nd.index];
        switch (f.a) {
          case kObjFirst:
          case kObjNext: {
            if (s == kEnd) return false;
            const LitTrie& tr = f.a == kObjFirst ? o.first : o.next;
            const int32_t c = tr.child(static_cast<int32_t>(f.b), static_cast<uint8_t>(s));
            if (c < 0) return false;
            const bool closable = (f.c & o.required) == o.required;
            const bool live = (tr.tag_mask(c) & ~f.c) != 0 || (closable && (tr.special_mask(c) & special_bit(kTagClose))) ||
                              (tr.special_mask(c) & special_bit(kTagFree));
            if (!live) return false;
            f.b = static_cast<uint32_t>(c);
            const int32_t e = tr.entry(c);
            if (e < 0) return true;
            const int32_t tag = tr.entry_at(e).tag;
            if (tag == kTagClose) {
              --t.height;
            } else if (tag == kTagFree) {
              f.a = kObjFreeColon;
              return push(t, o.free_key);
            } else {
              f.c |= uint64_t{1} << tag;
              f.a = kObjAfterKey;
              f.b = static_cast<uint32_t>(tag);
            }
            return true;
          }
          case kObjFreeColon:
            if (s != ':') return false;
            f.a = kObjAfterKey;
            f.b = kFreeIdx;
            return true;
          case kObjAfterKey:
          case kObjAfterKeySp: {
            if (f.a == kObjAfterKey && o.space_after_key && s == ' ') {
              f.a = kObjAfterKeySp;
              return true;
            }
            const NodeId v = f.b == kFreeIdx ? o.free_value : o.values[f.b];
            f.a = kObjAfterValue;
            if (!push(t, v)) return false;
            continue;
          }
          default:  // kObjAfterValue
            f.a = kObjNext;
            f.b = 0;
            continue;
        }
      }
      case Kind::kRepeat: {
        const RepeatSpec& r = g.repeats[nd.index];
        if (f.a == kRepItemDone) {
          f.a = kRepAfter;
          f.b = 0;
          continue;
        }
        const LitTrie& tr = f.a == kRepFirst ? r.first : r.after;
        const uint64_t count = f.c;
        auto live = [&](int32_t node) {
          const uint8_t sp = tr.special_mask(node);
          return ((sp & special_bit(kTagItem)) && count < r.max) || ((sp & special_bit(kTagClose)) && count >= r.min);
        };
        const int32_t c = s == kEnd ? -1 : tr.child(static_cast<int32_t>(f.b), static_cast<uint8_t>(s));
        if (c >= 0 && live(c)) {
          f.b = static_cast<uint32_t>(c);
          if (!tr.leaf(c)) return true;
          if (tr.entry_at(tr.entry(c)).tag == kTagClose) {
            --t.height;
            return true;
          }
          ++f.c;
          f.a = kRepItemDone;
          return push(t, r.item);
        }
        // A complete separator that a longer one extends (",", then not " "): the item follows.
        const int32_t e = tr.entry(static_cast<int32_t>(f.b));
        if (e < 0 || tr.entry_at(e).tag != kTagItem || count >= r.max) return false;
        ++f.c;
        f.a = kRepItemDone;
        if (!push(t, r.item)) return false;
        continue;
      }
    }
    return false;
  }
}

bool Recognizer::string_step(Thread& t, Frame& f, const StringSpec& sp, int s) const {
  if (s == kEnd) return false;
  const auto b = static_cast<uint8_t>(s);
  switch (f.a) {
    case kStrOpen:
      if (b != '"') return false;
      f.a = kStrBody;
      return true;
    case kStrBody: {
      const uint8_t u = text_utf8(f.c);
      const bool boundary = utf8::need(u) == 0;
      if (boundary && b == '"') {
        if (f.b < sp.min_chars) return false;
        --t.height;
        return true;
      }
      if (boundary && b == '\\') {
        if (f.b >= sp.max_chars) return false;
        ++f.b;
        f.a = kStrEsc;
        f.c = text_pack(TextMatcher::kRoot, 0);  // no marker contains a backslash
        ++t.free;
        return true;
      }
      if (!content_byte_ok(TextKind::kJsonString, b)) return false;
      const int nu = utf8::step(u, b);
      if (nu < 0) return false;
      if (boundary) {
        if (f.b >= sp.max_chars) return false;
        ++f.b;
      }
      uint16_t node;
      if (TextMatcher::get(TextKind::kJsonString).step(text_node(f.c), b, &node) != TextMatcher::Move::kNext) return false;
      f.c = text_pack(node, static_cast<uint8_t>(nu));
      ++t.free;
      return true;
    }
    case kStrEsc:
      if (b == 'u') {
        f.a = kStrHex1;
      } else if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't') {
        f.a = kStrBody;
      } else {
        return false;
      }
      ++t.free;
      return true;
    case kStrHex1:
      // \uD800-\uDFFF (surrogates) are left out: a lone one is invalid, and pairs are not needed
      // since raw UTF-8 can spell every code point.
      if (!is_hex(b)) return false;
      f.a = (b == 'd' || b == 'D') ? kStrHex2D : kStrHex2;
      ++t.free;
      return true;
    case kStrHex2D:
      if (b < '0' || b > '7') return false;
      f.a = kStrHex3;
      ++t.free;
      return true;
    case kStrHex2:
    case kStrHex3:
    case kStrHex4:
      if (!is_hex(b)) return false;
      f.a = f.a == kStrHex2 ? uint16_t{kStrHex3} : f.a == kStrHex3 ? uint16_t{kStrHex4} : uint16_t{kStrBody};
      ++t.free;
      return true;
  }
  return false;
}

bool Recognizer::text_step(Thread& t, Frame& f, TextKind kind, int s) const {
  if (s == kEnd) return false;
  const auto b = static_cast<uint8_t>(s);
  if (!content_byte_ok(kind, b)) return false;
  const int nu = utf8::step(text_utf8(f.c), b);
  if (nu < 0) return false;
  const TextMatcher& m = TextMatcher::get(kind);
  uint16_t node;
  const TextMatcher::Move mv = m.step(text_node(f.c), b, &node);
  if (mv == TextMatcher::Move::kReject) return false;
  ++t.free;
  if (mv == TextMatcher::Move::kEnd) {
    const auto n = static_cast<uint16_t>(m.terminator().size());
    t.free = t.free > n ? static_cast<uint16_t>(t.free - n) : 0;
    --t.height;
    return true;
  }
  f.c = text_pack(node, static_cast<uint8_t>(nu));
  return true;
}

// 1: consumed, 0: the number is complete and the byte belongs to what follows, -1: rejected.
int Recognizer::number_step(Thread& t, Frame& f, bool integer, int s) const {
  const bool digit = is_digit(s);
  const bool exp = !integer && (s == 'e' || s == 'E');
  switch (f.a) {
    case kNumStart:
    case kNumMinus:
      if (f.a == kNumStart && s == '-') {
        f.a = kNumMinus;
        return 1;
      }
      if (s == '0') {
        f.a = kNumZero;
        return 1;
      }
      if (!digit) return -1;
      f.a = kNumInt;
      f.b = 1;
      return 1;
    case kNumZero:
    case kNumInt:
      if (f.a == kNumInt && digit && f.b < kMaxIntDigits) {
        ++f.b;
        return 1;
      }
      if (!integer && s == '.') {
        f.a = kNumDot;
        return 1;
      }
      if (exp) {
        f.a = kNumE;
        return 1;
      }
      return 0;
    case kNumDot:
      if (!digit) return -1;
      f.a = kNumFrac;
      f.b = 1;
      return 1;
    case kNumFrac:
      if (digit && f.b < kMaxFracDigits) {
        ++f.b;
        return 1;
      }
      if (exp) {
        f.a = kNumE;
        return 1;
      }
      return 0;
    case kNumE:
      if (s == '+' || s == '-') {
        f.a = kNumESign;
        return 1;
      }
      [[fallthrough]];
    case kNumESign:
      if (!digit) return -1;
      f.a = kNumExp;
      f.b = 1;
      return 1;
    default:  // kNumExp
      if (digit && f.b < kMaxExpDigits) {
        ++f.b;
        return 1;
      }
      return 0;
  }
}

int64_t Recognizer::rem(const Frame& f) const {
  const Grammar& g = *g_;
  const Node& nd = g.nodes[f.node];
  switch (nd.kind) {
    case Kind::kLit: return static_cast<int64_t>(g.lits[nd.index].size()) - f.a;
    case Kind::kLitSet: return g.litsets[nd.index].node_min[f.b];
    case Kind::kSeq: return g.seq_suffix[nd.index][f.a];
    case Kind::kChoice: return nd.min_len;
    case Kind::kString: {
      const StringSpec& sp = g.strings[nd.index];
      const int64_t chars = sp.min_chars > f.b ? sp.min_chars - f.b : 0;
      switch (f.a) {
        case kStrOpen: return 2 + static_cast<int64_t>(sp.min_chars);
        case kStrBody: return utf8::need(text_utf8(f.c)) + chars + 1;
        case kStrEsc: return 1 + chars + 1;
        case kStrHex1: return 4 + chars + 1;
        case kStrHex2:
        case kStrHex2D: return 3 + chars + 1;
        case kStrHex3: return 2 + chars + 1;
        default: return 1 + chars + 1;  // kStrHex4
      }
    }
    case Kind::kText: return TextMatcher::get(g.texts[nd.index]).min_finish(text_node(f.c), text_utf8(f.c));
    case Kind::kNumber:
      return f.a == kNumZero || f.a == kNumInt || f.a == kNumFrac || f.a == kNumExp ? 0 : 1;
    case Kind::kObject: {
      const ObjectSpec& o = g.objects[nd.index];
      switch (f.a) {
        case kObjFirst: return object_trie_rem(o, g, o.first, static_cast<int32_t>(f.b), f.c);
        case kObjNext: return object_trie_rem(o, g, o.next, static_cast<int32_t>(f.b), f.c);
        case kObjFreeColon: return sat_add(1 + g.nodes[o.free_value].min_len, object_cost_next(o, f.c));
        case kObjAfterKey:
        case kObjAfterKeySp: {
          const int64_t v = f.b == kFreeIdx ? g.nodes[o.free_value].min_len : o.value_min[f.b];
          return sat_add(v, object_cost_next(o, f.c));
        }
        default: return object_cost_next(o, f.c);
      }
    }
    case Kind::kRepeat: {
      const RepeatSpec& r = g.repeats[nd.index];
      const auto count = static_cast<int64_t>(f.c);
      switch (f.a) {
        case kRepFirst: return repeat_trie_rem(r, g, r.first, static_cast<int32_t>(f.b), count);
        case kRepAfter: return repeat_trie_rem(r, g, r.after, static_cast<int32_t>(f.b), count);
        default: return repeat_cost_after(r, g, count);
      }
    }
  }
  return kFar;
}

int64_t Recognizer::thread_dist(const Thread& t) const {
  int64_t d = 0;
  for (int i = 0; i < t.height; ++i) d = sat_add(d, rem(t.f[i]));
  return d;
}

int64_t Recognizer::dist(const State& s) const {
  int64_t best = kFar;
  for (int i = 0; i < s.n; ++i) best = std::min(best, thread_dist(s.t[i]));
  return best;
}

}  // namespace dsv4::constrain

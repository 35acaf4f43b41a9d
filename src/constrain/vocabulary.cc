#include "constrain/vocabulary.h"

#include <algorithm>

namespace dsv4::constrain {

TokenTrie build_token_trie(std::vector<std::pair<std::string_view, int32_t>> toks) {
  std::sort(toks.begin(), toks.end());  // string_view order is unsigned-byte order
  TokenTrie t;
  auto add_node = [&](uint8_t b, int depth) {
    t.byte.push_back(b);
    t.depth.push_back(static_cast<uint16_t>(depth));
    t.end.push_back(0);
    t.tok_begin.push_back(static_cast<int32_t>(t.toks.size()));
    t.max_depth = std::max(t.max_depth, depth);
  };
  add_node(0, 0);
  std::vector<int32_t> path = {0};  // path[d] = node at depth d of the previous token
  std::string_view prev;
  for (const auto& [s, id] : toks) {
    if (s.empty()) continue;
    size_t lcp = 0;
    while (lcp < s.size() && lcp < prev.size() && s[lcp] == prev[lcp]) ++lcp;
    while (path.size() > lcp + 1) {
      t.end[path.back()] = t.size();
      path.pop_back();
    }
    for (size_t d = lcp; d < s.size(); ++d) {
      path.push_back(t.size());
      add_node(static_cast<uint8_t>(s[d]), static_cast<int>(d + 1));
    }
    // The token's node is the newest one (or the same as the previous, identical token's).
    t.toks.push_back(id);
    prev = s;
  }
  while (!path.empty()) {
    t.end[path.back()] = t.size();
    path.pop_back();
  }
  t.tok_begin.push_back(static_cast<int32_t>(t.toks.size()));
  return t;
}

namespace {

// Whether the token leaves a neutral text state of this kind (character boundary, matcher at its
// root) unchanged, and how many code points it adds.
bool plain_in(TextKind kind, std::string_view s, uint32_t* chars) {
  const TextMatcher& m = TextMatcher::get(kind);
  uint8_t u = 0;
  uint16_t node = TextMatcher::kRoot;
  uint32_t n = 0;
  for (char ch : s) {
    const auto b = static_cast<uint8_t>(ch);
    if (!content_byte_ok(kind, b)) return false;
    if (utf8::need(u) == 0) ++n;
    const int nu = utf8::step(u, b);
    if (nu < 0) return false;
    u = static_cast<uint8_t>(nu);
    if (m.step(node, b, &node) != TextMatcher::Move::kNext) return false;
  }
  *chars = n;
  return !s.empty() && u == 0 && node == TextMatcher::kRoot;
}

}  // namespace

Result<std::shared_ptr<const Vocabulary>> Vocabulary::build(const Tokenizer& tok, int32_t eos_id, int64_t model_vocab_size) {
  const int32_t n = static_cast<int32_t>(std::min<int64_t>(tok.vocab_size(), model_vocab_size));
  std::vector<std::string> bytes(n);
  std::vector<uint8_t> added(n, 0);
  for (int32_t id = 0; id < n; ++id)
    if (tok.is_valid_id(id)) bytes[id] = std::string(tok.token_bytes(id));
  for (const auto& a : tok.added_tokens())
    if (a.id >= 0 && a.id < n) added[a.id] = 1;
  return from_tokens(std::move(bytes), std::move(added), eos_id, model_vocab_size);
}

Result<std::shared_ptr<const Vocabulary>> Vocabulary::from_tokens(std::vector<std::string> bytes, std::vector<uint8_t> added,
                                                                  int32_t eos_id, int64_t model_vocab_size) {
  if (model_vocab_size <= 0) return error("the model vocabulary size must be positive, got {}", model_vocab_size);
  if (static_cast<int64_t>(bytes.size()) > model_vocab_size) bytes.resize(model_vocab_size);
  added.resize(bytes.size(), 0);
  if (eos_id < 0 || eos_id >= static_cast<int64_t>(bytes.size()))
    return error("end-of-sentence id {} is not a token of the vocabulary", eos_id);
  auto v = std::make_shared<Vocabulary>();
  v->size_ = model_vocab_size;
  v->eos_ = eos_id;
  v->bytes_ = std::move(bytes);
  std::vector<std::pair<std::string_view, int32_t>> ordinary, add;
  bool single[256] = {};
  std::vector<std::pair<std::string_view, int32_t>> not_plain[kTextKinds];
  for (int32_t id = 0; id < static_cast<int32_t>(v->bytes_.size()); ++id) {
    const std::string_view s = v->bytes_[id];
    if (s.empty() || id == eos_id) continue;
    if (added[id]) {
      add.emplace_back(s, id);
      continue;
    }
    ordinary.emplace_back(s, id);
    if (s.size() == 1) single[static_cast<uint8_t>(s[0])] = true;
    for (int k = 0; k < kTextKinds; ++k) {
      uint32_t chars = 0;
      if (plain_in(static_cast<TextKind>(k), s, &chars)) {
        v->plain_[k].push_back(id);
        v->max_plain_chars_[k] = std::max(v->max_plain_chars_[k], chars);
      } else {
        not_plain[k].emplace_back(s, id);
      }
    }
  }
  // Budget forcing counts bytes as tokens: every byte must be one token.
  for (int b = 0; b < 256; ++b)
    if (!single[b]) return error("the tokenizer has no token for the single byte 0x{:02x} (not byte-level BPE)", b);
  v->ordinary_ = build_token_trie(std::move(ordinary));
  v->added_ = build_token_trie(std::move(add));
  for (int k = 0; k < kTextKinds; ++k) v->not_plain_[k] = build_token_trie(std::move(not_plain[k]));
  return std::shared_ptr<const Vocabulary>(std::move(v));
}

}  // namespace dsv4::constrain

#include "tokenizer/added_tokens.h"

namespace dsv4::tok {

void TokenTrie::insert(std::string_view s, int32_t id) {
  if (s.empty()) return;
  first_byte_[static_cast<uint8_t>(s[0])] = true;
  int32_t node = 0;
  for (char c : s) {
    uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(c);
    auto it = edges_.find(key);
    if (it == edges_.end()) {
      nodes_.push_back(Node{});
      it = edges_.emplace(key, static_cast<int32_t>(nodes_.size() - 1)).first;
    }
    node = it->second;
  }
  nodes_[node].id = id;
}

size_t TokenTrie::longest_at(std::string_view text, size_t pos, int32_t* id) const {
  if (!first_byte_[static_cast<uint8_t>(text[pos])]) return 0;
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(text[i]));
    if (it == edges_.end()) break;
    node = it->second;
    if (nodes_[node].id >= 0) {
      best = i + 1 - pos;
      *id = nodes_[node].id;
    }
  }
  return best;
}

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens) {
  raw_ = TokenTrie();
  normalized_ = TokenTrie();
  for (const AddedToken& t : tokens) (t.normalized ? normalized_ : raw_).insert(t.content, t.id);
}

void AddedTokenMatcher::split_pass(const TokenTrie& trie, std::string_view text,
                                   std::vector<TextSegment>& out) const {
  if (trie.empty()) {
    out.push_back({text, -1});
    return;
  }
  size_t gap = 0;
  for (size_t i = 0; i < text.size();) {
    int32_t id = -1;
    size_t n = trie.longest_at(text, i, &id);
    if (!n) {
      ++i;
      continue;
    }
    if (i > gap) out.push_back({text.substr(gap, i - gap), -1});
    out.push_back({text.substr(i, n), id});
    i += n;
    gap = i;
  }
  if (gap < text.size()) out.push_back({text.substr(gap), -1});
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSegment>& out) const {
  std::vector<TextSegment> first;
  split_pass(raw_, text, first);
  for (const TextSegment& s : first) {
    if (s.token_id >= 0) out.push_back(s);
    else split_pass(normalized_, s.text, out);
  }
}

}  // namespace dsv4::tok

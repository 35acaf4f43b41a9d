// Added tokens (special or not) are matched atomically in raw text before pre-tokenization, as
// the Hugging Face engine does: leftmost match first, the longest one at that position, first
// over the tokens flagged normalized=false, then over normalized=true tokens in the gaps.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv4::tok {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool normalized = false;
};

// A byte trie over one set of token strings.
class TokenTrie {
 public:
  void insert(std::string_view s, int32_t id);
  bool empty() const { return nodes_.size() <= 1; }
  // Length of the longest token starting at text[pos] (0 if none); *id gets its id.
  size_t longest_at(std::string_view text, size_t pos, int32_t* id) const;

 private:
  struct Node {
    int32_t id = -1;
  };
  std::vector<Node> nodes_{Node{}};
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child
  bool first_byte_[256] = {};
};

struct TextSegment {
  std::string_view text;  // a gap of ordinary text, or the matched token text
  int32_t token_id;       // -1 for ordinary text
};

class AddedTokenMatcher {
 public:
  void build(const std::vector<AddedToken>& tokens);
  // Splits text into ordinary segments and added-token segments, in order.
  void split(std::string_view text, std::vector<TextSegment>& out) const;

 private:
  void split_pass(const TokenTrie& trie, std::string_view text, std::vector<TextSegment>& out) const;
  TokenTrie raw_, normalized_;
};

}  // namespace dsv4::tok

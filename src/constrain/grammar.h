// The grammar a constraint follows: a graph of nodes (literals, literal sets, sequences,
// alternatives, JSON strings / numbers / objects / arrays, free text) compiled from a JSON schema
// or a tool list, interpreted byte by byte by the Recognizer (recognizer.h) with an explicit stack.
//
// Every node is non-empty (min_len >= 1) and its first bytes are known, so alternatives are only
// forked when a byte really fits several of them. Literal sets, object keys and array separators
// are tries whose entries are numbered in sorted order, so a trie node's subtree holds a
// contiguous range of entries (used for the shortest-completion bounds).
#pragma once
#include <bitset>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "constrain/text_matcher.h"

namespace dsv4::constrain {

using NodeId = int32_t;
inline constexpr int64_t kFar = int64_t{1} << 40;  // "unreachable" in byte counts (no overflow when summed)
inline constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

inline int64_t sat_add(int64_t a, int64_t b) { return a + b >= kFar ? kFar : a + b; }
inline int64_t sat_mul(int64_t a, int64_t b) { return a == 0 || b == 0 ? 0 : (a >= kFar / b ? kFar : a * b); }

// Entry tags with a fixed meaning (non-negative tags are property / literal indexes).
inline constexpr int32_t kTagClose = -1;  // closes the object / array
inline constexpr int32_t kTagFree = -2;   // starts a free object key
inline constexpr int32_t kTagItem = -3;   // the next array item follows

class LitTrie {
 public:
  struct Entry {
    std::string text;
    int32_t tag;
  };
  // Identical texts keep the first entry.
  static LitTrie build(std::vector<Entry> entries);

  int32_t child(int32_t node, uint8_t b) const {
    const Node& n = nodes_[node];
    for (int32_t e = n.edge_begin; e < n.edge_end; ++e)
      if (edge_byte_[e] == b) return edge_child_[e];
    return -1;
  }
  bool leaf(int32_t node) const { return nodes_[node].edge_begin == nodes_[node].edge_end; }
  int32_t entry(int32_t node) const { return nodes_[node].entry; }  // -1: no entry ends here
  int depth(int32_t node) const { return nodes_[node].depth; }
  int32_t entries_begin(int32_t node) const { return nodes_[node].ebegin; }
  int32_t entries_end(int32_t node) const { return nodes_[node].eend; }
  // Non-negative tags (< 64) below the node, and bits 0/1/2 for kTagClose/kTagFree/kTagItem.
  uint64_t tag_mask(int32_t node) const { return nodes_[node].tags; }
  uint8_t special_mask(int32_t node) const { return nodes_[node].special; }
  const Entry& entry_at(int32_t i) const { return entries_[i]; }
  int32_t entry_count() const { return static_cast<int32_t>(entries_.size()); }
  int32_t node_count() const { return static_cast<int32_t>(nodes_.size()); }
  // No entry is a proper prefix of another.
  bool prefix_free() const;
  std::bitset<256> first_bytes() const;
  // Bytes that continue past a complete entry (the greedy choice must not be needed by what follows).
  std::bitset<256> bytes_after_entries() const;

 private:
  struct Node {
    int32_t edge_begin = 0, edge_end = 0;
    int32_t entry = -1;
    int32_t ebegin = 0, eend = 0;
    uint16_t depth = 0;
    uint8_t special = 0;
    uint64_t tags = 0;
  };
  int32_t build_node(int32_t lo, int32_t hi, int depth);

  std::vector<Node> nodes_;
  std::vector<uint8_t> edge_byte_;
  std::vector<int32_t> edge_child_;
  std::vector<Entry> entries_;
};

inline uint8_t special_bit(int32_t tag) { return static_cast<uint8_t>(1u << (-tag - 1)); }

enum class Kind : uint8_t { kLit, kLitSet, kSeq, kChoice, kString, kNumber, kObject, kRepeat, kText };

// One of a set of literals; an entry may continue with another node (e.g. a tool name with its
// parameters). Greedy: a complete entry that a longer one extends only ends on a byte the longer
// one cannot take.
struct LitSetSpec {
  LitTrie trie;
  std::vector<NodeId> cont;      // per entry tag: the node that follows, or -1
  std::vector<int64_t> node_min;  // per trie node: fewest bytes to finish the entry and its continuation
};

// A JSON string; min/max count code points (an escape is one).
struct StringSpec {
  uint32_t min_chars = 0, max_chars = kUnbounded;
  bool opened = false;  // starts after its opening quote (object keys found by a trie)
};

// JSON objects and DSML parameter lists: entries chosen from a trie (opening + key for the first,
// separator + key for the next ones, and the closing), each property at most once, the required
// ones before the closing. With no properties, kTagFree entries start free keys.
struct ObjectSpec {
  LitTrie first, next;
  std::vector<NodeId> values;  // per property
  uint64_t required = 0;
  NodeId free_key = -1, free_value = -1;
  bool space_after_key = false;  // JSON: an optional ' ' between ':' and the value
  // Filled by GrammarBuilder::finish: per property the shortest value and "next" entry + value.
  std::vector<int64_t> value_min, next_cost;
  int64_t close_next = kFar;
};

// JSON arrays and DSML invoke lists: "first" entries are the opening (kTagItem: an item follows)
// and the opening + closing (kTagClose, empty list); "after" entries are separators (kTagItem)
// and the closing.
struct RepeatSpec {
  LitTrie first, after;
  NodeId item = -1;
  uint32_t min = 0, max = kUnbounded;
  int64_t sep_min = kFar, close_after = kFar;  // filled by finish
};

struct Node {
  Kind kind;
  int32_t index;  // into the kind's table
  bool container = false;
  int64_t min_len = kFar;
  std::bitset<256> first;
};

struct Grammar {
  NodeId root = -1;
  std::vector<Node> nodes;
  std::vector<std::string> lits;
  std::vector<LitSetSpec> litsets;
  std::vector<std::vector<NodeId>> seqs;
  std::vector<std::vector<int64_t>> seq_suffix;  // per seq: min bytes of children [i, n)
  std::vector<std::vector<NodeId>> choices;
  std::vector<StringSpec> strings;
  std::vector<bool> numbers;  // integer only
  std::vector<ObjectSpec> objects;
  std::vector<RepeatSpec> repeats;
  std::vector<TextKind> texts;
};

class GrammarBuilder {
 public:
  NodeId lit(std::string text);
  NodeId litset(std::vector<std::pair<std::string, NodeId>> entries);  // (text, continuation or -1)
  NodeId seq(std::vector<NodeId> kids);
  NodeId choice(std::vector<NodeId> alts);
  NodeId reserve_choice();                          // for recursive grammars: fill it later
  void set_choice(NodeId id, std::vector<NodeId> alts);
  NodeId string(StringSpec s);
  NodeId number(bool integer);
  NodeId object(ObjectSpec o);
  NodeId repeat(RepeatSpec r);
  NodeId text(TextKind kind);
  // Any JSON value (objects with free keys, arrays, scalars), built once per grammar.
  NodeId any_json();
  size_t size() const { return g_.nodes.size(); }

  // Computes shortest lengths and first bytes; fails when some node has no finite instance or
  // the grammar is too large for the recognizer's 16-bit node ids.
  Result<std::shared_ptr<const Grammar>> finish(NodeId root);

 private:
  NodeId add(Kind k, int32_t index, bool container = false);
  Grammar g_;
  NodeId any_ = -1;
};

// Frame-level shortest completions, shared by GrammarBuilder::finish and the Recognizer.
int64_t object_cost_next(const ObjectSpec& o, uint64_t used);
int64_t repeat_cost_after(const RepeatSpec& r, const Grammar& g, int64_t count);

}  // namespace dsv4::constrain

namespace dsv4::constrain {
// Fewest bytes to finish an object / array whose frame walks trie `tr` at `node` (see recognizer).
int64_t object_trie_rem(const ObjectSpec& o, const Grammar& g, const LitTrie& tr, int32_t node, uint64_t used);
int64_t repeat_trie_rem(const RepeatSpec& r, const Grammar& g, const LitTrie& tr, int32_t node, int64_t count);
}  // namespace dsv4::constrain

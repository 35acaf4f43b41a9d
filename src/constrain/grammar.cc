#include "constrain/grammar.h"

#include <algorithm>
#include <bit>

namespace dsv4::constrain {

// ---- LitTrie ----

LitTrie LitTrie::build(std::vector<Entry> entries) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.text < b.text; });
  entries.erase(std::unique(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.text == b.text; }),
                entries.end());
  LitTrie t;
  t.entries_ = std::move(entries);
  t.build_node(0, static_cast<int32_t>(t.entries_.size()), 0);
  return t;
}

int32_t LitTrie::build_node(int32_t lo, int32_t hi, int depth) {
  const int32_t id = static_cast<int32_t>(nodes_.size());
  nodes_.emplace_back();
  {
    Node& n = nodes_[id];
    n.depth = static_cast<uint16_t>(depth);
    n.ebegin = lo;
    n.eend = hi;
    for (int32_t i = lo; i < hi; ++i) {
      const int32_t tag = entries_[i].tag;
      if (tag >= 0 && tag < 64) n.tags |= uint64_t{1} << tag;
      if (tag < 0) n.special |= special_bit(tag);
    }
  }
  if (lo < hi && static_cast<int>(entries_[lo].text.size()) == depth) nodes_[id].entry = lo++;
  std::vector<std::pair<int32_t, int32_t>> groups;  // entry ranges sharing the byte at `depth`
  for (int32_t i = lo; i < hi;) {
    int32_t j = i + 1;
    while (j < hi && entries_[j].text[depth] == entries_[i].text[depth]) ++j;
    groups.emplace_back(i, j);
    i = j;
  }
  const auto eb = static_cast<int32_t>(edge_byte_.size());
  for (auto [i, j] : groups) {
    edge_byte_.push_back(static_cast<uint8_t>(entries_[i].text[depth]));
    edge_child_.push_back(-1);
  }
  nodes_[id].edge_begin = eb;
  nodes_[id].edge_end = eb + static_cast<int32_t>(groups.size());
  for (size_t k = 0; k < groups.size(); ++k) {
    const int32_t c = build_node(groups[k].first, groups[k].second, depth + 1);
    edge_child_[eb + k] = c;
  }
  return id;
}

bool LitTrie::prefix_free() const {
  for (int32_t i = 0; i < node_count(); ++i)
    if (entry(i) >= 0 && !leaf(i)) return false;
  return true;
}

std::bitset<256> LitTrie::first_bytes() const {
  std::bitset<256> s;
  for (int32_t e = nodes_[0].edge_begin; e < nodes_[0].edge_end; ++e) s.set(edge_byte_[e]);
  return s;
}

std::bitset<256> LitTrie::bytes_after_entries() const {
  std::bitset<256> s;
  for (const Node& n : nodes_)
    if (n.entry >= 0)
      for (int32_t e = n.edge_begin; e < n.edge_end; ++e) s.set(edge_byte_[e]);
  return s;
}

// ---- shortest completions of object / array frames ----

int64_t object_cost_next(const ObjectSpec& o, uint64_t used) {
  int64_t cost = o.close_next;
  for (uint64_t missing = o.required & ~used; missing; missing &= missing - 1)
    cost = sat_add(cost, o.next_cost[std::countr_zero(missing)]);
  return cost;
}

int64_t object_trie_rem(const ObjectSpec& o, const Grammar& g, const LitTrie& tr, int32_t node, uint64_t used) {
  int64_t best = kFar;
  const int depth = tr.depth(node);
  for (int32_t i = tr.entries_begin(node); i < tr.entries_end(node); ++i) {
    const LitTrie::Entry& e = tr.entry_at(i);
    const int64_t len = static_cast<int64_t>(e.text.size()) - depth;
    int64_t c;
    if (e.tag >= 0) {
      const uint64_t bit = uint64_t{1} << e.tag;
      if (used & bit) continue;
      c = sat_add(len, sat_add(o.value_min[e.tag], object_cost_next(o, used | bit)));
    } else if (e.tag == kTagClose) {
      if ((used & o.required) != o.required) continue;
      c = len;
    } else {  // free key: its closing quote, ':', the value, the rest
      c = sat_add(len + 2, sat_add(g.nodes[o.free_value].min_len, object_cost_next(o, used)));
    }
    best = std::min(best, c);
  }
  return best;
}

int64_t repeat_cost_after(const RepeatSpec& r, const Grammar& g, int64_t count) {
  const int64_t missing = std::max<int64_t>(0, static_cast<int64_t>(r.min) - count);
  return sat_add(sat_mul(missing, sat_add(r.sep_min, g.nodes[r.item].min_len)), r.close_after);
}

int64_t repeat_trie_rem(const RepeatSpec& r, const Grammar& g, const LitTrie& tr, int32_t node, int64_t count) {
  int64_t best = kFar;
  const int depth = tr.depth(node);
  for (int32_t i = tr.entries_begin(node); i < tr.entries_end(node); ++i) {
    const LitTrie::Entry& e = tr.entry_at(i);
    const int64_t len = static_cast<int64_t>(e.text.size()) - depth;
    if (e.tag == kTagClose) {
      if (count >= r.min) best = std::min(best, len);
    } else if (count < r.max) {
      best = std::min(best, sat_add(len, sat_add(g.nodes[r.item].min_len, repeat_cost_after(r, g, count + 1))));
    }
  }
  return best;
}

// ---- GrammarBuilder ----

NodeId GrammarBuilder::add(Kind k, int32_t index, bool container) {
  g_.nodes.push_back(Node{k, index, container, kFar, {}});
  return static_cast<NodeId>(g_.nodes.size() - 1);
}

NodeId GrammarBuilder::lit(std::string text) {
  g_.lits.push_back(std::move(text));
  return add(Kind::kLit, static_cast<int32_t>(g_.lits.size() - 1));
}

NodeId GrammarBuilder::litset(std::vector<std::pair<std::string, NodeId>> entries) {
  LitSetSpec s;
  std::vector<LitTrie::Entry> es;
  for (size_t i = 0; i < entries.size(); ++i) {
    es.push_back({std::move(entries[i].first), static_cast<int32_t>(i)});
    s.cont.push_back(entries[i].second);
  }
  s.trie = LitTrie::build(std::move(es));
  g_.litsets.push_back(std::move(s));
  return add(Kind::kLitSet, static_cast<int32_t>(g_.litsets.size() - 1));
}

NodeId GrammarBuilder::seq(std::vector<NodeId> kids) {
  if (kids.size() == 1) return kids[0];
  g_.seqs.push_back(std::move(kids));
  return add(Kind::kSeq, static_cast<int32_t>(g_.seqs.size() - 1));
}

NodeId GrammarBuilder::choice(std::vector<NodeId> alts) {
  if (alts.size() == 1) return alts[0];
  const NodeId id = reserve_choice();
  set_choice(id, std::move(alts));
  return id;
}

NodeId GrammarBuilder::reserve_choice() {
  g_.choices.emplace_back();
  return add(Kind::kChoice, static_cast<int32_t>(g_.choices.size() - 1));
}

void GrammarBuilder::set_choice(NodeId id, std::vector<NodeId> alts) { g_.choices[g_.nodes[id].index] = std::move(alts); }

NodeId GrammarBuilder::string(StringSpec s) {
  g_.strings.push_back(s);
  return add(Kind::kString, static_cast<int32_t>(g_.strings.size() - 1));
}

NodeId GrammarBuilder::number(bool integer) {
  g_.numbers.push_back(integer);
  return add(Kind::kNumber, static_cast<int32_t>(g_.numbers.size() - 1));
}

NodeId GrammarBuilder::object(ObjectSpec o) {
  g_.objects.push_back(std::move(o));
  return add(Kind::kObject, static_cast<int32_t>(g_.objects.size() - 1), true);
}

NodeId GrammarBuilder::repeat(RepeatSpec r) {
  g_.repeats.push_back(std::move(r));
  return add(Kind::kRepeat, static_cast<int32_t>(g_.repeats.size() - 1), true);
}

NodeId GrammarBuilder::text(TextKind kind) {
  g_.texts.push_back(kind);
  return add(Kind::kText, static_cast<int32_t>(g_.texts.size() - 1));
}

NodeId GrammarBuilder::any_json() {
  if (any_ >= 0) return any_;
  any_ = reserve_choice();
  ObjectSpec o;
  o.first = LitTrie::build({{"{}", kTagClose}, {"{\"", kTagFree}});
  o.next = LitTrie::build({{"}", kTagClose}, {",\"", kTagFree}, {", \"", kTagFree}});
  o.free_key = string(StringSpec{0, kUnbounded, true});
  o.free_value = any_;
  o.space_after_key = true;
  RepeatSpec r;
  r.first = LitTrie::build({{"[", kTagItem}, {"[]", kTagClose}});
  r.after = LitTrie::build({{",", kTagItem}, {", ", kTagItem}, {"]", kTagClose}});
  r.item = any_;
  const NodeId obj = object(std::move(o));
  const NodeId arr = repeat(std::move(r));
  set_choice(any_, {obj, arr, string({}), number(false), litset({{"true", -1}, {"false", -1}, {"null", -1}})});
  return any_;
}

namespace {

int64_t litset_root_min(const LitSetSpec& s, const Grammar& g, int32_t node) {
  int64_t best = kFar;
  const int depth = s.trie.depth(node);
  for (int32_t i = s.trie.entries_begin(node); i < s.trie.entries_end(node); ++i) {
    const LitTrie::Entry& e = s.trie.entry_at(i);
    const NodeId c = s.cont[e.tag];
    best = std::min(best, sat_add(static_cast<int64_t>(e.text.size()) - depth, c >= 0 ? g.nodes[c].min_len : 0));
  }
  return best;
}

int64_t entry_len_min(const LitTrie& t, int32_t tag) {
  int64_t best = kFar;
  for (int32_t i = 0; i < t.entry_count(); ++i)
    if (t.entry_at(i).tag == tag) best = std::min<int64_t>(best, t.entry_at(i).text.size());
  return best;
}

}  // namespace

Result<std::shared_ptr<const Grammar>> GrammarBuilder::finish(NodeId root) {
  Grammar& g = g_;
  g.root = root;
  if (g.nodes.size() > 65535) return error("the grammar has {} nodes, more than the 65535 supported", g.nodes.size());
  // Shortest instances: a fixpoint, since any_json() is recursive. Lengths only decrease.
  for (int iter = 0;; ++iter) {
    if (iter > 10000) return error("internal error: grammar lengths do not converge");
    for (ObjectSpec& o : g.objects) {
      o.value_min.resize(o.values.size());
      o.next_cost.resize(o.values.size());
      for (size_t i = 0; i < o.values.size(); ++i) {
        o.value_min[i] = g.nodes[o.values[i]].min_len;
        o.next_cost[i] = sat_add(entry_len_min(o.next, static_cast<int32_t>(i)), o.value_min[i]);
      }
      o.close_next = entry_len_min(o.next, kTagClose);
    }
    for (RepeatSpec& r : g.repeats) {
      r.sep_min = entry_len_min(r.after, kTagItem);
      r.close_after = entry_len_min(r.after, kTagClose);
    }
    bool changed = false;
    for (Node& n : g.nodes) {
      int64_t m = kFar;
      switch (n.kind) {
        case Kind::kLit: m = static_cast<int64_t>(g.lits[n.index].size()); break;
        case Kind::kLitSet: m = litset_root_min(g.litsets[n.index], g, 0); break;
        case Kind::kSeq:
          m = 0;
          for (NodeId k : g.seqs[n.index]) m = sat_add(m, g.nodes[k].min_len);
          break;
        case Kind::kChoice:
          for (NodeId a : g.choices[n.index]) m = std::min(m, g.nodes[a].min_len);
          break;
        case Kind::kString: {
          const StringSpec& s = g.strings[n.index];
          m = (s.opened ? 1 : 2) + static_cast<int64_t>(s.min_chars);
          break;
        }
        case Kind::kNumber: m = 1; break;
        case Kind::kObject: {
          const ObjectSpec& o = g.objects[n.index];
          m = object_trie_rem(o, g, o.first, 0, 0);
          break;
        }
        case Kind::kRepeat: {
          const RepeatSpec& r = g.repeats[n.index];
          m = repeat_trie_rem(r, g, r.first, 0, 0);
          break;
        }
        case Kind::kText: m = TextMatcher::get(g.texts[n.index]).min_finish(TextMatcher::kRoot, 0); break;
      }
      if (m < n.min_len) {
        n.min_len = m;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (const Node& n : g.nodes) {
    if (n.min_len >= kFar) return error("internal error: a grammar node has no finite instance");
    if (n.min_len < 1) return error("internal error: a grammar node can be empty");
  }
  for (const auto& kids : g.seqs) {
    std::vector<int64_t> suffix(kids.size() + 1, 0);
    for (size_t i = kids.size(); i-- > 0;) suffix[i] = sat_add(suffix[i + 1], g.nodes[kids[i]].min_len);
    g.seq_suffix.push_back(std::move(suffix));
  }
  for (LitSetSpec& s : g.litsets) {
    s.node_min.resize(s.trie.node_count());
    for (int32_t i = 0; i < s.trie.node_count(); ++i) s.node_min[i] = litset_root_min(s, g, i);
  }
  // First bytes (a fixpoint for the same reason).
  for (bool changed = true; changed;) {
    changed = false;
    for (Node& n : g.nodes) {
      std::bitset<256> f;
      switch (n.kind) {
        case Kind::kLit: f.set(static_cast<uint8_t>(g.lits[n.index][0])); break;
        case Kind::kLitSet: f = g.litsets[n.index].trie.first_bytes(); break;
        case Kind::kSeq: f = g.nodes[g.seqs[n.index][0]].first; break;
        case Kind::kChoice:
          for (NodeId a : g.choices[n.index]) f |= g.nodes[a].first;
          break;
        case Kind::kString:
          if (g.strings[n.index].opened) f.set(); else f.set('"');
          break;
        case Kind::kNumber:
          f.set('-');
          for (char c = '0'; c <= '9'; ++c) f.set(static_cast<uint8_t>(c));
          break;
        case Kind::kObject: f = g.objects[n.index].first.first_bytes(); break;
        case Kind::kRepeat: f = g.repeats[n.index].first.first_bytes(); break;
        case Kind::kText: f.set(); break;
      }
      if ((n.first | f) != n.first) {
        n.first |= f;
        changed = true;
      }
    }
  }
  for (const ObjectSpec& o : g.objects)
    if (!o.first.prefix_free() || !o.next.prefix_free()) return error("internal error: ambiguous object keys");
  return std::shared_ptr<const Grammar>(std::make_shared<Grammar>(std::move(g_)));
}

}  // namespace dsv4::constrain

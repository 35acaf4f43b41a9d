#include "tokenizer/bpe_model.h"

#include <mutex>
#include <queue>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"

namespace dsv4::tok {

// Word -> ids for short words. Bounded: once full it stops growing (as the HF engine's cache).
class WordCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 18;
  static constexpr size_t kMaxWordBytes = 64;
  bool get(std::string_view word, std::vector<int32_t>& out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(word);
    if (it == map_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }
  void put(std::string_view word, const int32_t* ids, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_.size() < kMaxEntries) map_.emplace(std::string(word), std::vector<int32_t>(ids, ids + n));
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> map_;
};

BpeModel::BpeModel() : cache_(std::make_unique<WordCache>()) {}
BpeModel::~BpeModel() = default;
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;

namespace {
uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
}  // namespace

Result<BpeModel> BpeModel::from_json(const nlohmann::json& m) {
  BpeModel bpe;
  try {
    if (m.value("type", std::string("BPE")) != "BPE") return error("model: type '{}' is not BPE", m.value("type", ""));
    if (m.contains("dropout") && !m.at("dropout").is_null() && m.at("dropout").get<double>() != 0.0)
      return error("model: BPE dropout is not supported");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (m.contains(key) && !m.at(key).is_null() && !m.at(key).get<std::string>().empty())
        return error("model: {} is not supported", key);
    if (m.value("byte_fallback", false)) return error("model: byte_fallback is not supported");
    bpe.fuse_unk_ = m.value("fuse_unk", false);
    bpe.ignore_merges_ = m.value("ignore_merges", false);
    for (const auto& [token, idj] : m.at("vocab").items()) {
      int64_t id = idj.get<int64_t>();
      if (id < 0 || id >= (int64_t{1} << 30)) return error("model.vocab: id {} of '{}' out of range", id, token);
      if (static_cast<size_t>(id) >= bpe.id_to_token_.size()) {
        bpe.id_to_token_.resize(id + 1);
        bpe.id_used_.resize(id + 1, 0);
      }
      if (bpe.id_used_[id]) return error("model.vocab: id {} used twice", id);
      bpe.id_used_[id] = 1;
      bpe.id_to_token_[id] = token;
      bpe.vocab_.emplace(token, static_cast<int32_t>(id));
    }
    if (m.contains("unk_token") && m.at("unk_token").is_string()) {
      auto it = bpe.vocab_.find(m.at("unk_token").get<std::string>());
      if (it == bpe.vocab_.end()) return error("model: unk_token is not in the vocabulary");
      bpe.unk_id_ = it->second;
    }
    for (int b = 0; b < 256; ++b) {
      std::string sym = bytes_to_symbols(std::string(1, static_cast<char>(b)));
      auto it = bpe.vocab_.find(sym);
      bpe.byte_ids_[b] = it == bpe.vocab_.end() ? -1 : it->second;
    }
    const auto& merges = m.at("merges");
    int32_t rank = 0;
    for (const auto& mj : merges) {
      std::string a, b;
      if (mj.is_string()) {
        std::string s = mj.get<std::string>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          return error("model.merges[{}]: '{}' is not two space-separated tokens", rank, s);
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (mj.is_array() && mj.size() == 2) {
        a = mj[0].get<std::string>();
        b = mj[1].get<std::string>();
      } else {
        return error("model.merges[{}]: expected \"a b\" or [\"a\", \"b\"]", rank);
      }
      auto ia = bpe.vocab_.find(a), ib = bpe.vocab_.find(b), ic = bpe.vocab_.find(a + b);
      if (ia == bpe.vocab_.end() || ib == bpe.vocab_.end() || ic == bpe.vocab_.end())
        return error("model.merges[{}]: '{} {}' uses a token missing from the vocabulary", rank, a, b);
      // A repeated pair keeps its last rank: the HF engine collects merges into a map likewise.
      bpe.merges_.insert_or_assign(pair_key(ia->second, ib->second), MergeTarget{rank, ic->second});
      ++rank;
    }
  } catch (const nlohmann::json::exception& e) {
    return error("model: {}", e.what());
  }
  return bpe;
}

std::optional<int32_t> BpeModel::token_id(std::string_view token) const {
  auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !id_used_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1 && byte_ids_[static_cast<uint8_t>(bytes[0])] >= 0) {
    out.push_back(byte_ids_[static_cast<uint8_t>(bytes[0])]);
    return;
  }
  bool cacheable = bytes.size() <= WordCache::kMaxWordBytes;
  if (cacheable && cache_->get(bytes, out)) return;
  size_t start = out.size();
  if (ignore_merges_) {
    if (auto id = token_id(bytes_to_symbols(bytes))) out.push_back(*id);
  }
  if (out.size() == start) merge_word(bytes, out);
  if (cacheable) cache_->put(bytes, out.data() + start, out.size() - start);
}

void BpeModel::merge_word(std::string_view bytes, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(bytes.size());
  for (char c : bytes) {
    int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id < 0) {  // a byte the vocabulary lacks: the unknown token, or dropped (no unk)
      if (!unk_id_) continue;
      if (fuse_unk_ && !sym.empty() && sym.back().id == *unk_id_) continue;
      id = *unk_id_;
    }
    int32_t n = static_cast<int32_t>(sym.size());
    sym.push_back({id, n - 1, n + 1, true});
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Candidate {
    int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push_pair = [&](int32_t pos) {
    if (pos < 0 || sym[pos].next < 0) return;
    auto it = merges_.find(pair_key(sym[pos].id, sym[sym[pos].next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push_pair(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[left.next];
    auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.id != top.new_id) continue;  // stale entry
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) sym[left.next].prev = top.pos;
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace dsv4::tok

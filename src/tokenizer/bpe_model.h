// The BPE model of a byte-level tokenizer.json: vocabulary, merges by rank, and the merge loop
// (lowest rank first, leftmost first, as the Hugging Face engine's priority queue does). Words
// are raw bytes; each byte starts as the id of its byte-level symbol. Results for short words
// are cached, since natural text repeats its words.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace dsv4::tok {

class WordCache;

class BpeModel {
 public:
  // From the "model" object of a tokenizer.json (type BPE; merges as "a b" strings or
  // ["a", "b"] pairs).
  static Result<BpeModel> from_json(const nlohmann::json& model);

  BpeModel();
  ~BpeModel();
  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;

  // Appends the ids of one pre-token (raw bytes).
  void encode_word(std::string_view bytes, std::vector<int32_t>& out) const;

  // Vocabulary lookups; tokens are in byte-level form (e.g. "Ġthe").
  std::optional<int32_t> token_id(std::string_view token) const;
  const std::string* token(int32_t id) const;
  size_t vocab_entries() const { return vocab_.size(); }
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }
  size_t num_merges() const { return merges_.size(); }

 private:
  void merge_word(std::string_view bytes, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;  // "" for ids the vocabulary does not use
  std::vector<uint8_t> id_used_;
  std::array<int32_t, 256> byte_ids_{};   // -1 when the byte's symbol is missing
  struct MergeTarget {
    int32_t rank, id;
  };
  std::unordered_map<uint64_t, MergeTarget> merges_;  // (left id << 32 | right id)
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::unique_ptr<WordCache> cache_;
};

}  // namespace dsv4::tok

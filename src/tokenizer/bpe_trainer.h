// Trains a small byte-level BPE tokenizer and writes it as a Hugging Face tokenizer.json with
// DeepSeek's structure (spec §5.1: the three Split regexes + ByteLevel, ByteLevel decoder), so
// tiny test models get a real tokenizer that both this engine and the HF engine load.
// Id layout: the V4 chat special tokens first (BOS 0, EOS 1, ...), then the 256 byte symbols,
// then one id per learned merge, up to exactly the requested vocabulary size.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace dsv4::tok {

struct SpecialTokenSpec {
  std::string content;
  bool special;  // skipped by decode(skip_special=true)
};

// The chat special tokens of DeepSeek V4 (spec §5.1), BOS and EOS first.
const std::vector<SpecialTokenSpec>& v4_special_tokens();

// Learns merges on `corpus` deterministically: the most frequent adjacent pair wins, ties going to
// the smallest (left, right) byte strings. Fails if the corpus cannot supply enough merges.
Result<nlohmann::ordered_json> train_bpe_tokenizer(const std::vector<std::string>& corpus, int vocab_size);

}  // namespace dsv4::tok

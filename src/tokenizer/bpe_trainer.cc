#include "tokenizer/bpe_trainer.h"

#include <map>
#include <unordered_map>

#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsv4::tok {

const std::vector<SpecialTokenSpec>& v4_special_tokens() {
  static const std::vector<SpecialTokenSpec> tokens = {
      {"<｜begin▁of▁sentence｜>", true}, {"<｜end▁of▁sentence｜>", true}, {"<｜▁pad▁｜>", true},
      {"<｜User｜>", false},            {"<｜Assistant｜>", false},       {"<think>", false},
      {"</think>", false},              {"｜DSML｜", false},               {"<｜latest_reminder｜>", false},
      {"<｜action｜>", false},          {"<｜query｜>", false},            {"<｜authority｜>", false},
      {"<｜domain｜>", false},          {"<｜title｜>", false},            {"<｜read_url｜>", false},
      {"<｜extracted_url｜>", false},   {"<｜end_of_query｜>", false},     {"<｜image｜>", false},
      // Fill-in-the-middle markers (DeepSeek's FIM format; /v1/completions with a suffix).
      {"<｜fim▁hole｜>", false},        {"<｜fim▁begin｜>", false},        {"<｜fim▁end｜>", false},
  };
  return tokens;
}

namespace {

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
};

// Counts the pre-tokens of the corpus (special-token strings removed first).
Result<std::vector<Word>> collect_words(const std::vector<std::string>& corpus, int32_t first_byte_id) {
  DSV4_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::from_json(PreTokenizer::deepseek_json()));
  std::vector<AddedToken> specials;
  for (const auto& s : v4_special_tokens()) specials.push_back({s.content, 0, s.special, false});
  AddedTokenMatcher matcher;
  matcher.build(specials);
  std::map<std::string, int64_t> counts;  // ordered: deterministic word order
  std::vector<TextSegment> segs;
  std::vector<std::string_view> pieces;
  for (const std::string& raw : corpus) {
    std::string text;
    append_lossy(text, raw);
    segs.clear();
    matcher.split(text, segs);
    for (const auto& seg : segs) {
      if (seg.token_id >= 0) continue;
      pieces.clear();
      pre.split(seg.text, pieces);
      for (auto p : pieces) ++counts[std::string(p)];
    }
  }
  std::vector<Word> words;
  for (const auto& [w, c] : counts) {
    Word word{{}, c};
    for (char ch : w) word.syms.push_back(first_byte_id + static_cast<uint8_t>(ch));
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace

Result<nlohmann::ordered_json> train_bpe_tokenizer(const std::vector<std::string>& corpus, int vocab_size) {
  const auto& specials = v4_special_tokens();
  const int32_t first_byte_id = static_cast<int32_t>(specials.size());
  const int32_t min_size = first_byte_id + 256;
  if (vocab_size < min_size)
    return error("vocab size {} is below the {} special tokens + 256 byte symbols", vocab_size, first_byte_id);
  DSV4_ASSIGN_OR_RETURN(std::vector<Word> words, collect_words(corpus, first_byte_id));

  std::vector<std::string> tokens;  // byte-level strings, by id
  std::unordered_map<std::string, int32_t> vocab;
  for (const auto& s : specials) {
    vocab.emplace(s.content, static_cast<int32_t>(tokens.size()));
    tokens.push_back(s.content);
  }
  for (int b = 0; b < 256; ++b) {
    std::string sym = bytes_to_symbols(std::string(1, static_cast<char>(b)));
    vocab.emplace(sym, static_cast<int32_t>(tokens.size()));
    tokens.push_back(sym);
  }
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  while (static_cast<int>(tokens.size()) < vocab_size) {
    std::unordered_map<uint64_t, int64_t> pair_counts;
    for (const Word& w : words)
      for (size_t i = 0; i + 1 < w.syms.size(); ++i)
        pair_counts[(static_cast<uint64_t>(w.syms[i]) << 32) | static_cast<uint32_t>(w.syms[i + 1])] += w.count;
    int64_t best_count = 0;
    int32_t best_a = -1, best_b = -1;
    for (const auto& [key, c] : pair_counts) {
      int32_t a = static_cast<int32_t>(key >> 32), b = static_cast<int32_t>(key & 0xFFFFFFFF);
      bool better = c > best_count ||
                    (c == best_count && std::tie(tokens[a], tokens[b]) < std::tie(tokens[best_a], tokens[best_b]));
      if (better) {
        best_count = c;
        best_a = a;
        best_b = b;
      }
    }
    if (best_count < 2)
      return error("the corpus supports only {} ids, {} requested: give it more text", tokens.size(), vocab_size);
    std::string merged = tokens[best_a] + tokens[best_b];
    auto [it, inserted] = vocab.emplace(merged, static_cast<int32_t>(tokens.size()));
    if (inserted) tokens.push_back(merged);
    int32_t new_id = it->second;
    merges.push_back({tokens[best_a], tokens[best_b]});
    for (Word& w : words) {
      size_t out = 0;
      for (size_t i = 0; i < w.syms.size(); ++i) {
        if (i + 1 < w.syms.size() && w.syms[i] == best_a && w.syms[i + 1] == best_b) {
          w.syms[out++] = new_id;
          ++i;
        } else {
          w.syms[out++] = w.syms[i];
        }
      }
      w.syms.resize(out);
    }
  }

  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < specials.size(); ++i)
    j["added_tokens"].push_back({{"id", i}, {"content", specials[i].content}, {"single_word", false},
                                 {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                                 {"special", specials[i].special}});
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::ordered_json::array()}};
  j["pre_tokenizer"] = nlohmann::ordered_json::parse(PreTokenizer::deepseek_json().dump());
  j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  nlohmann::ordered_json vocab_json = nlohmann::ordered_json::object();
  for (size_t id = 0; id < tokens.size(); ++id) vocab_json[tokens[id]] = id;
  j["model"] = {{"type", "BPE"},          {"dropout", nullptr},   {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},      {"byte_fallback", false}, {"ignore_merges", false},
                {"vocab", vocab_json},    {"merges", merges}};
  return j;
}

}  // namespace dsv4::tok

#include "tokenizer/gguf_vocab.h"

#include <map>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"

namespace dsv4::tok {

Result<GgufVocab> gguf_vocab_from_tokenizer_json(std::string_view json_text, std::string_view origin,
                                                 int64_t vocab_size) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error("{}: not a JSON object", origin);
  const auto& model = j.value("model", nlohmann::json::object());
  if (model.value("type", "") != "BPE" || !model.contains("vocab") || !model["vocab"].is_object())
    return error("{}: model is not a byte-level BPE with a vocab", origin);
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  for (const auto& [tok, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) return error("{}: vocab entry '{}' has a bad id", origin, tok);
    by_id[id.get<int64_t>()] = {tok, kTokNormal};
  }
  for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
    if (!a.contains("id") || !a.contains("content")) return error("{}: an added token lacks id or content", origin);
    by_id[a["id"].get<int64_t>()] = {a["content"].get<std::string>(),
                                     a.value("special", false) ? kTokControl : kTokUserDefined};
  }
  const int64_t n = std::max<int64_t>(vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  GgufVocab v;
  v.tokens.resize(n);
  v.types.assign(n, kTokUnused);
  for (int64_t id = 0; id < n; ++id) v.tokens[id] = fmt::format("[PAD{}]", id);
  for (auto& [id, e] : by_id) {
    v.tokens[id] = e.first;
    v.types[id] = e.second;
  }
  for (const auto& m : model.value("merges", nlohmann::json::array())) {
    if (m.is_string()) v.merges.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2) v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else return error("{}: a merge is neither \"a b\" nor [a, b]", origin);
  }
  return v;
}

GgufVocab byte_placeholder_vocab(int64_t vocab_size) {
  GgufVocab v;
  for (int64_t id = 0; id < vocab_size; ++id) {
    if (id < 256) {
      v.tokens.push_back(bytes_to_symbols(std::string(1, static_cast<char>(id))));
      v.types.push_back(kTokNormal);
    } else {
      v.tokens.push_back(fmt::format("<|dsv4_unused_{}|>", id));
      v.types.push_back(kTokControl);
    }
  }
  return v;
}

Result<std::string> tokenizer_json_from_gguf_vocab(const GgufVocab& v, std::string_view origin) {
  if (v.model != "gpt2")
    return error("{}: tokenizer.ggml.model is '{}'; DeepSeek models use byte-level BPE ('gpt2')", origin, v.model);
  if (v.pre != kDeepseekPre && v.pre != "deepseek-v4")
    return error("{}: tokenizer.ggml.pre is '{}'; this engine implements DeepSeek's pre-tokenizer ('{}')", origin,
                 v.pre, kDeepseekPre);
  if (v.types.size() != v.tokens.size())
    return error("{}: {} token types for {} tokens", origin, v.types.size(), v.tokens.size());
  nlohmann::ordered_json j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = nlohmann::ordered_json::array();
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    const int32_t t = v.types[id];
    if (t == kTokUnused) continue;  // ids no text maps to ("[PAD{id}]" rows past the tokenizer)
    // Added tokens sit in the model's vocabulary too (as in DeepSeek's tokenizer.json), at their id.
    if (vocab.contains(v.tokens[id])) return error("{}: token '{}' appears twice", origin, v.tokens[id]);
    vocab[v.tokens[id]] = id;
    if (t == kTokControl || t == kTokUserDefined)
      j["added_tokens"].push_back({{"id", id}, {"content", v.tokens[id]}, {"single_word", false}, {"lstrip", false},
                                   {"rstrip", false}, {"normalized", false}, {"special", t == kTokControl}});
  }
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::ordered_json::array()}};
  j["pre_tokenizer"] = nlohmann::ordered_json::parse(PreTokenizer::deepseek_json().dump());
  j["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["model"] = {{"type", "BPE"},          {"dropout", nullptr},   {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},      {"byte_fallback", false}, {"ignore_merges", false},
                {"vocab", vocab},         {"merges", v.merges}};
  return j.dump();
}

}  // namespace dsv4::tok

// A tokenizer as GGUF files carry it (the `tokenizer.ggml.*` keys llama.cpp reads: model "gpt2",
// the pre-tokenizer's name, the token strings by id, their types, the merges) <-> a Hugging Face
// tokenizer.json of the DeepSeek structure, which is what Tokenizer loads. Pure data conversion:
// reading and writing the keys is the caller's (cli/gguf_tokenizer.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dsv4::tok {

// llama.cpp's token types (llama_token_type / gguf-py TokenType).
enum GgufTokenType : int32_t { kTokNormal = 1, kTokUnknown = 2, kTokControl = 3, kTokUserDefined = 4, kTokUnused = 5,
                               kTokByte = 6 };

// The name llama.cpp gives the DeepSeek V3 / V4 pre-tokenizer (the same three Split regexes).
inline constexpr std::string_view kDeepseekPre = "deepseek-v3";

struct GgufVocab {
  std::string model = "gpt2";
  std::string pre = std::string(kDeepseekPre);
  std::vector<std::string> tokens;  // by id: byte-level form, or an added token's content
  std::vector<int32_t> types;       // GgufTokenType per id
  std::vector<std::string> merges;  // "left right" in rank order
  std::optional<int64_t> bos, eos;
};

// From a tokenizer.json; ids past its largest up to `vocab_size` (the embedding's rows) become
// "[PAD{id}]" of type unused, as llama.cpp's converter writes them.
Result<GgufVocab> gguf_vocab_from_tokenizer_json(std::string_view json_text, std::string_view origin,
                                                 int64_t vocab_size);

// For a checkpoint without a tokenizer.json (the golden test models): the 256 byte symbols, then
// "<|dsv4_unused_{id}|>" control tokens up to vocab_size, no merges: token ids round-trip, text
// encodes byte by byte.
GgufVocab byte_placeholder_vocab(int64_t vocab_size);

// The tokenizer.json text Tokenizer::from_json_text loads. Only the "gpt2" model with the DeepSeek
// pre-tokenizer is accepted (an error names anything else).
Result<std::string> tokenizer_json_from_gguf_vocab(const GgufVocab& v, std::string_view origin);

}  // namespace dsv4::tok

// Byte-level BPE tokenizer loaded from a Hugging Face tokenizer.json of the DeepSeek family
// (spec §5.1): added tokens matched atomically, the Split pre-tokenizer sequence on PCRE2, BPE
// merges by rank, ByteLevel decoding. Encoding and decoding match the Hugging Face `tokenizers`
// engine id for id and byte for byte (tests/tokenizer_parity). Encoding never adds BOS/EOS.
// Thread-safe after loading.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/pre_tokenizer.h"

namespace dsv4 {

class Tokenizer {
 public:
  static Result<Tokenizer> load(const std::string& path);
  // `origin` names the source in error messages.
  static Result<Tokenizer> from_json_text(std::string_view json_text, std::string_view origin);

  // Text -> ids. Invalid UTF-8 in `text` is first replaced by U+FFFD (the HF engine only takes
  // valid strings).
  std::vector<int32_t> encode(std::string_view text) const;

  // Ids -> text. Ids that name no token are skipped (as the HF engine does; use check_ids to
  // reject them); invalid UTF-8 produced by the token bytes becomes U+FFFD.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // An error naming the first id that names no token.
  Status check_ids(std::span<const int32_t> ids) const;

  // The id of an added token's content or a vocabulary entry (byte-level form).
  std::optional<int32_t> token_id(std::string_view token) const;
  // The token string of an id (content for added tokens, byte-level form otherwise).
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_valid_id(int32_t id) const;
  bool is_special(int32_t id) const;
  // The raw bytes id decodes to (empty for invalid ids); `skip_special` empties special ids.
  std::string_view token_bytes(int32_t id, bool skip_special = false) const;
  // One more than the largest id.
  int32_t vocab_size() const { return static_cast<int32_t>(id_bytes_.size()); }
  const std::vector<tok::AddedToken>& added_tokens() const { return added_; }

 private:
  tok::BpeModel model_;
  tok::PreTokenizer pre_;
  std::vector<tok::AddedToken> added_;
  tok::AddedTokenMatcher matcher_;
  std::vector<std::string> id_bytes_;  // decoded bytes per id
  std::vector<uint8_t> id_flags_;      // kValid | kSpecial | kAdded
  std::vector<int32_t> added_index_;   // id -> index in added_, or -1
};

// Incremental detokenizer for streaming: push ids one at a time and get back only complete
// UTF-8 text; a multi-byte character split across tokens is held until it completes. The
// concatenation of all push() results and finish() equals decode() of the whole sequence.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tok_(&tokenizer), skip_special_(skip_special) {}
  std::string push(int32_t id);
  // Flushes bytes still held: an incomplete sequence at the end becomes U+FFFD.
  std::string finish();
  // Bytes held back waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace dsv4

// libFuzzer target for the tokenizer's decode path (src/tokenizer/tokenizer.h).
// Input: byte 0 = flags (bit 0: skip_special); then every 3 bytes make one id, spread over the
// valid range plus a margin of out-of-range ids (negative, vocab_size.., and huge values).
// Checks: decode never crashes and returns valid UTF-8; the stream decoder's chunks are each
// valid UTF-8 and add up to the whole decode; check_ids fails exactly when an id is invalid;
// re-encoding the decoded text and decoding again reproduces it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

const dsv4::Tokenizer& fuzz_tokenizer() {
  static const dsv4::Tokenizer* tok = [] {
    const std::string text =
        "The keeper climbed the tower twice each night to see that the flame burned clean. "
        "Numbers 12345 and 2024-05-17; code: if (x > 0) { return y; } 你好，世界！こんにちは 😀 "
        "Ünïcödé text, naïve café, Straße; the the the there then they their them. ";
    auto j = dsv4::tok::train_bpe_tokenizer({text + text}, 360);
    if (!j.ok()) std::abort();
    auto t = dsv4::Tokenizer::from_json_text(j->dump(), "fuzz");
    if (!t.ok()) std::abort();
    return new dsv4::Tokenizer(std::move(t).value());
  }();
  return *tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dsv4::Tokenizer& tok = fuzz_tokenizer();
  if (size == 0) return 0;
  const bool skip_special = data[0] & 1;
  const int32_t n = tok.vocab_size();
  std::vector<int32_t> ids;
  bool all_valid = true;
  for (size_t i = 1; i + 3 <= size; i += 3) {
    uint32_t v = data[i] | (data[i + 1] << 8) | (static_cast<uint32_t>(data[i + 2]) << 16);
    int32_t id = data[i + 2] >= 0xF0 ? static_cast<int32_t>(v * 2654435761u)  // anything at all
                                     : static_cast<int32_t>(v % static_cast<uint32_t>(n + 40)) - 20;
    all_valid = all_valid && tok.is_valid_id(id);
    ids.push_back(id);
  }
  if (tok.check_ids(ids).ok() != all_valid) std::abort();

  const std::string whole = tok.decode(ids, skip_special);
  if (!dsv4::tok::is_valid_utf8(whole)) std::abort();

  dsv4::StreamDecoder stream(tok, skip_special);
  std::string streamed;
  for (int32_t id : ids) {
    std::string chunk = stream.push(id);
    if (!dsv4::tok::is_valid_utf8(chunk)) std::abort();
    streamed += chunk;
  }
  streamed += stream.finish();
  if (streamed != whole) std::abort();

  if (tok.decode(tok.encode(whole)) != whole) std::abort();
  return 0;
}

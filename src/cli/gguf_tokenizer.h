// The `tokenizer.ggml.*` keys of a GGUF file <-> this engine's Tokenizer (via tok::GgufVocab).
#pragma once
#include <optional>
#include <string>

#include "base/status.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {

// nullopt when the file has no tokenizer.ggml.tokens; an error when the keys are malformed or
// describe a tokenizer other than DeepSeek's byte-level BPE.
Result<std::optional<Tokenizer>> tokenizer_from_gguf(const GgufFile& f);
// The vocabulary as stored (for tests and `dsv4 info`).
Result<std::optional<tok::GgufVocab>> gguf_vocab(const GgufFile& f);

void write_gguf_vocab(const tok::GgufVocab& v, GgufWriter& w);

}  // namespace dsv4::cli

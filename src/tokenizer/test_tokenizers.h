// Test helper: a real byte-level BPE tokenizer trained on the committed corpus, shared by the
// tokenizer unit tests (built once per test binary).
#pragma once
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::tok::testing {

inline std::string committed_corpus() {
  std::ifstream in(std::string(DSV4_SOURCE_DIR) + "/configs/tokenizer_corpus.txt", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline const std::string& small_tokenizer_json() {
  static const std::string text = [] {
    auto j = train_bpe_tokenizer({committed_corpus()}, 1024);
    EXPECT_TRUE(j.ok()) << j.message();
    return j.ok() ? j->dump() : std::string();
  }();
  return text;
}

inline const Tokenizer& small_tokenizer() {
  static const Tokenizer* tok = [] {
    auto t = Tokenizer::from_json_text(small_tokenizer_json(), "small");
    EXPECT_TRUE(t.ok()) << t.message();
    return new Tokenizer(std::move(t).value());
  }();
  return *tok;
}

}  // namespace dsv4::tok::testing

// dsv4 tokenize / detokenize / make-tokenizer: text <-> token ids with a tokenizer.json, and
// training the small byte-level BPE tokenizer that test models ship with.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::cli {
namespace {

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

void print_ids(const std::vector<int32_t>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

Result<std::vector<int32_t>> parse_ids(std::string_view text) {
  std::vector<int32_t> ids;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX) return error("'{}' is not a token id", word);
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

struct TokenizeArgs {
  std::string tokenizer;
  bool jsonl = false;
  bool skip_special = false;
  bool stats = false;
};

// stdin text -> one line of ids; with --jsonl every input line is a JSON string and gets a line.
Status run_tokenize(const TokenizeArgs& a) {
  DSV4_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::load(a.tokenizer));
  std::string input = read_stdin();
  if (!a.jsonl) {
    auto start = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = tok.encode(input);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_ids(ids);
    if (a.stats)
      fmt::print(stderr, "{} bytes, {} tokens, encode {:.4f} s, {:.2f} MB/s\n", input.size(), ids.size(), seconds,
                 input.size() / 1e6 / std::max(seconds, 1e-9));
    return ok_status();
  }
  std::istringstream lines(input);
  std::string line;
  double seconds = 0;
  size_t bytes = 0, tokens = 0;
  for (size_t n = 1; std::getline(lines, line); ++n) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_string()) return error("stdin line {}: expected a JSON string", n);
    const std::string& text = j.get_ref<const std::string&>();
    auto start = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = tok.encode(text);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bytes += text.size();
    tokens += ids.size();
    print_ids(ids);
  }
  if (a.stats)
    fmt::print(stderr, "{} bytes, {} tokens, encode {:.4f} s, {:.2f} MB/s\n", bytes, tokens, seconds,
               bytes / 1e6 / std::max(seconds, 1e-9));
  return ok_status();
}

// stdin ids -> text; with --jsonl every input line is a list of ids and gets a JSON string line.
Status run_detokenize(const TokenizeArgs& a) {
  DSV4_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::load(a.tokenizer));
  std::string input = read_stdin();
  if (!a.jsonl) {
    DSV4_ASSIGN_OR_RETURN(std::vector<int32_t> ids, parse_ids(input));
    DSV4_TRY(tok.check_ids(ids));
    std::string text = tok.decode(ids, a.skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return ok_status();
  }
  std::istringstream lines(input);
  std::string line;
  for (size_t n = 1; std::getline(lines, line); ++n) {
    auto ids = parse_ids(line);
    if (!ids.ok()) return error("stdin line {}: {}", n, ids.message());
    if (Status s = tok.check_ids(*ids); !s.ok()) return error("stdin line {}: {}", n, s.message());
    std::string out = nlohmann::json(tok.decode(*ids, a.skip_special)).dump() + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return ok_status();
}

struct MakeTokenizerArgs {
  int vocab_size = 0;
  std::string config;
  std::string out;
  std::vector<std::string> corpus{"configs/tokenizer_corpus.txt"};
};

Status run_make_tokenizer(MakeTokenizerArgs a) {
  if (!a.config.empty()) {
    std::ifstream in(a.config, std::ios::binary);
    if (!in) return error("cannot open config '{}'", a.config);
    nlohmann::json cfg = nlohmann::json::parse(in, nullptr, false);
    if (!cfg.is_object() || !cfg.contains("vocab_size") || !cfg["vocab_size"].is_number_integer())
      return error("config '{}' has no integer vocab_size", a.config);
    int from_config = cfg["vocab_size"].get<int>();
    if (a.vocab_size && a.vocab_size != from_config)
      return error("--vocab-size {} disagrees with vocab_size {} in '{}'", a.vocab_size, from_config, a.config);
    a.vocab_size = from_config;
  }
  if (a.vocab_size <= 0) return error("give --vocab-size or --config");
  std::vector<std::string> texts;
  for (const std::string& path : a.corpus) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return error("cannot open corpus '{}'", path);
    texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  DSV4_ASSIGN_OR_RETURN(nlohmann::ordered_json j, tok::train_bpe_tokenizer(texts, a.vocab_size));
  std::string text = j.dump(1) + "\n";
  // Check before writing: the file must load and have exactly the requested ids.
  DSV4_ASSIGN_OR_RETURN(Tokenizer check, Tokenizer::from_json_text(text, a.out));
  if (check.vocab_size() != a.vocab_size)
    return error("internal: trained tokenizer has {} ids, not {}", check.vocab_size(), a.vocab_size);
  std::ofstream out(a.out, std::ios::binary | std::ios::trunc);
  if (!out) return error("cannot create '{}'", a.out);
  out << text;
  out.close();
  if (!out) return error("writing '{}' failed", a.out);
  return ok_status();
}

}  // namespace

void add_tokenize(CLI::App& app, int* rc) {
  auto targs = std::make_shared<TokenizeArgs>();
  auto* tcmd = app.add_subcommand("tokenize", "Text on stdin -> token ids (one line, space separated)");
  tcmd->add_option("--tokenizer", targs->tokenizer, "tokenizer.json")->required();
  tcmd->add_flag("--stats", targs->stats, "Print bytes, tokens and encode throughput to stderr");
  tcmd->add_flag("--jsonl", targs->jsonl, "Each stdin line is a JSON string; print one id line per input line");
  tcmd->callback([targs, rc] {
    Status s = run_tokenize(*targs);
    *rc = s.ok() ? 0 : fail("tokenize", s.message());
  });

  auto dargs = std::make_shared<TokenizeArgs>();
  auto* dcmd = app.add_subcommand("detokenize", "Token ids on stdin -> text");
  dcmd->add_option("--tokenizer", dargs->tokenizer, "tokenizer.json")->required();
  dcmd->add_flag("--skip-special", dargs->skip_special, "Drop special tokens");
  dcmd->add_flag("--jsonl", dargs->jsonl, "Each stdin line is a list of ids; print one JSON string per line");
  dcmd->callback([dargs, rc] {
    Status s = run_detokenize(*dargs);
    *rc = s.ok() ? 0 : fail("detokenize", s.message());
  });

  auto margs = std::make_shared<MakeTokenizerArgs>();
  auto* mcmd = app.add_subcommand("make-tokenizer", "Train a byte-level BPE tokenizer.json (DeepSeek structure)");
  mcmd->add_option("--vocab-size", margs->vocab_size, "Exact number of ids");
  mcmd->add_option("--config", margs->config, "Take the vocab size from this model config.json");
  mcmd->add_option("--out", margs->out, "Output tokenizer.json")->required();
  mcmd->add_option("--corpus", margs->corpus, "Training text files (default configs/tokenizer_corpus.txt)");
  mcmd->callback([margs, rc] {
    Status s = run_make_tokenizer(*margs);
    *rc = s.ok() ? 0 : fail("make-tokenizer", s.message());
  });
}

}  // namespace dsv4::cli

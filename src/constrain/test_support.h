// Test helpers: the default model's tokenizer (trained from the committed corpus exactly as
// scripts/make_default_model.sh does, so it is always available), random-logit sampling through
// a constraint, and a small JSON Schema validator for the subset the grammars generate.
#pragma once
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "constrain/constrain.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/tokenizer.h"

namespace dsv4::constrain::testing {

using Json = nlohmann::ordered_json;

inline const Tokenizer& default_tokenizer() {
  static const Tokenizer* tok = [] {
    std::ifstream cin(std::string(DSV4_SOURCE_DIR) + "/configs/default.json");
    const Json cfg = Json::parse(cin);
    std::ifstream in(std::string(DSV4_SOURCE_DIR) + "/configs/tokenizer_corpus.txt", std::ios::binary);
    const std::string corpus((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = tok::train_bpe_tokenizer({corpus}, cfg["vocab_size"].get<int>());
    EXPECT_TRUE(j.ok()) << j.message();
    auto t = Tokenizer::from_json_text(j->dump(), "default");
    EXPECT_TRUE(t.ok()) << t.message();
    return new Tokenizer(std::move(t).value());
  }();
  return *tok;
}

inline constexpr int kPadding = 29;  // model ids past the tokenizer (never allowed)

inline std::shared_ptr<const Vocabulary> default_vocab() {
  static const std::shared_ptr<const Vocabulary> v = [] {
    const Tokenizer& t = default_tokenizer();
    auto r = Vocabulary::build(t, 1, t.vocab_size() + kPadding);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : nullptr;
  }();
  return v;
}

struct SampleRun {
  std::string text;       // bytes of the tokens before end-of-sentence
  bool saw_eos = false;
  int tokens = 0;
  std::string failure;    // a broken invariant
  double mask_ms = 0, max_mask_ms = 0;  // time in mask(): total and slowest call
};

// Draws up to `budget` tokens from random logits (N(0, sigma)) at `temp` (0: greedy), through
// the constraint. Added tokens get a boost so that they are tried often.
inline SampleRun sample(engine::TokenConstraint& c, const Vocabulary& v, const Tokenizer& tok, uint64_t seed, double temp,
                  int budget, double sigma = 3.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, static_cast<float>(sigma));
  SampleRun r;
  std::vector<float> logits(v.size());
  for (int step = 0; step < budget; ++step) {
    for (auto& x : logits) x = nd(rng);
    for (const auto& a : tok.added_tokens()) logits[a.id] += 4.f;
    const auto t0 = std::chrono::steady_clock::now();
    c.mask(logits, budget - step);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.mask_ms += ms;
    r.max_mask_ms = std::max(r.max_mask_ms, ms);
    std::vector<double> p(logits.size(), 0.0);
    double mx = -INFINITY;
    for (float x : logits) mx = std::max<double>(mx, x);
    if (!std::isfinite(mx)) {
      r.failure = "no token allowed at step " + std::to_string(step);
      return r;
    }
    for (int64_t i = tok.vocab_size(); i < v.size(); ++i)
      if (std::isfinite(logits[i])) r.failure = "padding id allowed";
    int32_t pick = 0;
    if (temp <= 0) {
      pick = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    } else {
      for (size_t i = 0; i < p.size(); ++i) p[i] = std::isfinite(logits[i]) ? std::exp((logits[i] - mx) / temp) : 0.0;
      std::discrete_distribution<int32_t> dd(p.begin(), p.end());
      pick = dd(rng);
    }
    c.accept(pick);
    ++r.tokens;
    if (pick == v.eos()) {
      r.saw_eos = true;
      return r;
    }
    r.text += v.bytes(pick);
  }
  return r;
}

// Number of code points of valid UTF-8.
inline size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// "" when `v` satisfies `s` (and has no keys beyond declared properties: the grammar's policy).
inline std::string validate(const Json& v, const Json& s, const Json& doc, int depth = 0) {
  if (depth > 40) return "too deep";
  if (s.is_boolean()) return s.get<bool>() ? "" : "false schema";
  if (s.contains("$ref")) {
    const Json& t = doc.at(Json::json_pointer(s["$ref"].get<std::string>().substr(1)));
    if (auto e = validate(v, t, doc, depth + 1); !e.empty()) return e;
  }
  if (s.contains("allOf"))
    for (const auto& a : s["allOf"])
      if (auto e = validate(v, a, doc, depth + 1); !e.empty()) return e;
  for (const char* k : {"anyOf", "oneOf"})
    if (s.contains(k)) {
      bool any = false;
      for (const auto& a : s[k]) any = any || validate(v, a, doc, depth + 1).empty();
      if (!any) return std::string("no ") + k + " alternative fits " + v.dump();
    }
  if (s.contains("const") && v != s["const"]) return "const mismatch: " + v.dump();
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end())
    return "not in enum: " + v.dump();
  if (s.contains("type")) {
    const Json ts = s["type"].is_array() ? s["type"] : Json::array({s["type"]});
    bool ok = false;
    for (const auto& t : ts) {
      const std::string n = t.get<std::string>();
      ok = ok || (n == "string" && v.is_string()) || (n == "integer" && v.is_number_integer()) ||
           (n == "number" && v.is_number()) || (n == "boolean" && v.is_boolean()) || (n == "null" && v.is_null()) ||
           (n == "object" && v.is_object()) || (n == "array" && v.is_array());
    }
    if (!ok) return "type mismatch: " + v.dump() + " vs " + ts.dump();
  }
  if (v.is_string()) {
    const size_t n = code_points(v.get<std::string>());
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return "too short";
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return "too long";
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return "too few items";
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return "too many items";
    if (s.contains("items"))
      for (const auto& x : v)
        if (auto e = validate(x, s["items"], doc, depth + 1); !e.empty()) return e;
  }
  if (v.is_object()) {
    const Json props = s.contains("properties") ? s["properties"] : Json::object();
    if (s.contains("required"))
      for (const auto& r : s["required"])
        if (!v.contains(r.get<std::string>())) return "missing required " + r.get<std::string>();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (props.contains(it.key())) {
        if (auto e = validate(it.value(), props[it.key()], doc, depth + 1); !e.empty()) return it.key() + ": " + e;
      } else if (!props.empty()) {
        return "undeclared key " + it.key();
      } else if (s.contains("additionalProperties")) {
        if (auto e = validate(it.value(), s["additionalProperties"], doc, depth + 1); !e.empty()) return e;
      }
    }
  }
  return "";
}

}  // namespace dsv4::constrain::testing

#include "cli/gguf_tokenizer.h"

namespace dsv4::cli {

Result<std::optional<tok::GgufVocab>> gguf_vocab(const GgufFile& f) {
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (!tokens) return std::optional<tok::GgufVocab>();
  if (tokens->type != GgufValueType::kArray || tokens->elem != GgufValueType::kString)
    return error("{}: tokenizer.ggml.tokens is not an array of strings", f.path());
  tok::GgufVocab v;
  DSV4_ASSIGN_OR_RETURN(v.model, f.get_string("tokenizer.ggml.model"));
  v.pre = "default";
  if (f.find("tokenizer.ggml.pre")) {
    DSV4_ASSIGN_OR_RETURN(v.pre, f.get_string("tokenizer.ggml.pre"));
  }
  v.tokens = tokens->strings;
  if (const GgufValue* t = f.find("tokenizer.ggml.token_type")) {
    if (t->type != GgufValueType::kArray || t->ints.size() != v.tokens.size())
      return error("{}: tokenizer.ggml.token_type must be an integer array as long as tokenizer.ggml.tokens ({})",
                   f.path(), v.tokens.size());
    v.types.assign(t->ints.begin(), t->ints.end());
  } else {
    v.types.assign(v.tokens.size(), tok::kTokNormal);
  }
  if (const GgufValue* m = f.find("tokenizer.ggml.merges")) {
    if (m->type != GgufValueType::kArray || (m->elem != GgufValueType::kString && m->array_size() > 0))
      return error("{}: tokenizer.ggml.merges is not an array of strings", f.path());
    v.merges = m->strings;
  }
  if (f.find("tokenizer.ggml.bos_token_id")) {
    DSV4_ASSIGN_OR_RETURN(v.bos, f.get_int("tokenizer.ggml.bos_token_id"));
  }
  if (f.find("tokenizer.ggml.eos_token_id")) {
    DSV4_ASSIGN_OR_RETURN(v.eos, f.get_int("tokenizer.ggml.eos_token_id"));
  }
  return std::optional<tok::GgufVocab>(std::move(v));
}

Result<std::optional<Tokenizer>> tokenizer_from_gguf(const GgufFile& f) {
  DSV4_ASSIGN_OR_RETURN(auto v, gguf_vocab(f));
  if (!v) return std::optional<Tokenizer>();
  DSV4_ASSIGN_OR_RETURN(std::string json, tok::tokenizer_json_from_gguf_vocab(*v, f.path()));
  DSV4_ASSIGN_OR_RETURN(Tokenizer t, Tokenizer::from_json_text(json, f.path()));
  return std::optional<Tokenizer>(std::move(t));
}

void write_gguf_vocab(const tok::GgufVocab& v, GgufWriter& w) {
  w.set_string("tokenizer.ggml.model", v.model);
  w.set_string("tokenizer.ggml.pre", v.pre);
  w.set_string_array("tokenizer.ggml.tokens", v.tokens);
  w.set_i32_array("tokenizer.ggml.token_type", v.types);
  w.set_string_array("tokenizer.ggml.merges", v.merges);
  if (v.bos) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*v.bos));
  if (v.eos) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*v.eos));
  // The V4 chat encoding puts BOS in the prompt itself; callers feed token ids as they are.
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace dsv4::cli

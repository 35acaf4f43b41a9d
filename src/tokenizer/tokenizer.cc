#include "tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace dsv4 {
namespace {

enum : uint8_t { kValid = 1, kSpecial = 2, kAdded = 4 };

Status check_normalizer(const nlohmann::json& j) {
  if (!j.contains("normalizer") || j.at("normalizer").is_null()) return ok_status();
  const auto& n = j.at("normalizer");
  if (n.value("type", "") == "Sequence" && n.contains("normalizers") && n.at("normalizers").empty())
    return ok_status();
  return error("normalizer {} is not supported (only none / an empty Sequence)", n.dump());
}

Status check_decoder(const nlohmann::json& j) {
  if (j.contains("decoder") && j.at("decoder").is_object() && j.at("decoder").value("type", "") == "ByteLevel")
    return ok_status();
  return error("decoder must be ByteLevel");
}

}  // namespace

Result<Tokenizer> Tokenizer::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("cannot open tokenizer file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json_text(ss.str(), path);
}

Result<Tokenizer> Tokenizer::from_json_text(std::string_view json_text, std::string_view origin) {
  Tokenizer t;
  auto fail = [&](const Status& s) { return error("{}: {}", origin, s.message()); };
  try {
    nlohmann::json j = nlohmann::json::parse(json_text);
    if (Status s = check_normalizer(j); !s.ok()) return fail(s);
    if (Status s = check_decoder(j); !s.ok()) return fail(s);
    auto model = tok::BpeModel::from_json(j.at("model"));
    if (!model.ok()) return fail(model.status());
    t.model_ = std::move(model).value();
    auto pre = tok::PreTokenizer::from_json(j.at("pre_tokenizer"));
    if (!pre.ok()) return fail(pre.status());
    t.pre_ = std::move(pre).value();

    // Added token ids follow the HF engine's rule: the vocabulary id when the content is in the
    // vocabulary, else the next id after the vocabulary and earlier added tokens. A file whose
    // declared ids disagree would load differently there, so it is rejected.
    int32_t next_id = static_cast<int32_t>(t.model_.vocab_entries());
    for (const auto& a : j.value("added_tokens", nlohmann::json::array())) {
      tok::AddedToken tok;
      tok.content = a.at("content").get<std::string>();
      tok.special = a.value("special", false);
      tok.normalized = a.value("normalized", !tok.special);
      if (a.value("lstrip", false) || a.value("rstrip", false) || a.value("single_word", false))
        return fail(error("added token '{}': lstrip/rstrip/single_word are not supported", tok.content));
      if (tok.content.empty() || !tok::is_valid_utf8(tok.content))
        return fail(error("added token with empty or invalid content"));
      int32_t declared = a.at("id").get<int32_t>();
      std::optional<int32_t> id = t.model_.token_id(tok.content);
      bool duplicate = false;
      for (const auto& prev : t.added_)
        if (prev.content == tok.content) { id = prev.id; duplicate = true; }
      if (!id) id = next_id++;
      if (*id != declared)
        return fail(error("added token '{}' declares id {} but its position gives id {}", tok.content, declared, *id));
      tok.id = *id;
      if (!duplicate) t.added_.push_back(std::move(tok));
    }
  } catch (const nlohmann::json::exception& e) {
    return error("{}: {}", origin, e.what());
  }
  t.matcher_.build(t.added_);

  int32_t size = t.model_.max_id() + 1;
  for (const auto& a : t.added_) size = std::max(size, a.id + 1);
  t.id_bytes_.assign(size, std::string());
  t.id_flags_.assign(size, 0);
  t.added_index_.assign(size, -1);
  for (int32_t id = 0; id <= t.model_.max_id(); ++id) {
    if (const std::string* s = t.model_.token(id)) {
      t.id_bytes_[id] = tok::symbols_to_bytes(*s);
      t.id_flags_[id] = kValid;
    }
  }
  for (size_t i = 0; i < t.added_.size(); ++i) {
    const auto& a = t.added_[i];
    t.id_bytes_[a.id] = tok::symbols_to_bytes(a.content);
    t.id_flags_[a.id] = kValid | kAdded | (a.special ? kSpecial : 0);
    t.added_index_[a.id] = static_cast<int32_t>(i);
  }
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::string repaired;
  if (!tok::is_valid_utf8(text)) {
    tok::append_lossy(repaired, text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<tok::TextSegment> segments;
  matcher_.split(text, segments);
  for (const tok::TextSegment& seg : segments) {
    if (seg.token_id >= 0) ids.push_back(seg.token_id);
    else pre_.for_each_piece(seg.text, [&](std::string_view p) { model_.encode_word(p, ids); });
  }
  return ids;
}

bool Tokenizer::is_valid_id(int32_t id) const {
  return id >= 0 && id < vocab_size() && (id_flags_[id] & kValid);
}

bool Tokenizer::is_special(int32_t id) const { return is_valid_id(id) && (id_flags_[id] & kSpecial); }

std::string_view Tokenizer::token_bytes(int32_t id, bool skip_special) const {
  if (!is_valid_id(id) || (skip_special && (id_flags_[id] & kSpecial))) return {};
  return id_bytes_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) bytes += token_bytes(id, skip_special);
  std::string out;
  out.reserve(bytes.size());
  tok::append_lossy(out, bytes);
  return out;
}

Status Tokenizer::check_ids(std::span<const int32_t> ids) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (!is_valid_id(ids[i]))
      return error("token id {} at position {} is not in the vocabulary (size {})", ids[i], i, vocab_size());
  return ok_status();
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token) const {
  for (const auto& a : added_)
    if (a.content == token) return a.id;
  return model_.token_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (!is_valid_id(id)) return std::nullopt;
  if (added_index_[id] >= 0) return added_[added_index_[id]].content;
  return *model_.token(id);
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_->token_bytes(id, skip_special_);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    size_t n = tok::valid_sequence_length(pending_, i);
    if (n) {
      out.append(pending_, i, n);
      i += n;
    } else if (tok::is_truncated_sequence(pending_, i)) {
      break;  // may complete with the next token
    } else {
      out += tok::kReplacementChar;
      i += tok::invalid_subpart_length(pending_, i);
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  tok::append_lossy(out, pending_);
  pending_.clear();
  return out;
}

}  // namespace dsv4

#include "io/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "io/gguf_checkpoint.h"
#include "io/strict_json.h"

namespace dsv4 {
namespace fs = std::filesystem;

namespace {

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return error("{}: read error", path);
  return ss.str();
}

bool is_plain_file_name(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

}  // namespace

Result<SafetensorsIndex> parse_safetensors_index(std::string_view text, std::string_view label) {
  DSV4_ASSIGN_OR_RETURN(nlohmann::json j, parse_json_strict(text, label));
  if (!j.is_object()) return error("{}: not a JSON object", label);
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) return error("{}: missing weight_map object", label);
  if (wm->empty()) return error("{}: weight_map is empty", label);
  SafetensorsIndex index;
  std::set<std::string> shards;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string()) return error("{}: weight_map['{}'] is not a string", label, it.key());
    const std::string& shard = it.value().get_ref<const std::string&>();
    if (!is_plain_file_name(shard))
      return error("{}: weight_map['{}'] names an invalid shard file '{}'", label, it.key(), shard);
    index.weight_map.emplace(it.key(), shard);
    shards.insert(shard);
  }
  index.shards.assign(shards.begin(), shards.end());
  return index;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& path) { return open(path, nullptr); }

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& path,
                                                     const std::function<bool(std::string_view)>& wanted) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  std::error_code ec;
  std::vector<std::string> files;
  std::optional<SafetensorsIndex> index;
  std::string index_path;
  if (fs::is_regular_file(path, ec) && is_gguf_path(path)) {
    return open_gguf_checkpoint(path, wanted);
  } else if (fs::is_regular_file(path, ec)) {
    ck->dir_ = fs::path(path).parent_path().string();
    files.push_back(path);
  } else if (fs::is_directory(path, ec)) {
    ck->dir_ = path;
    index_path = (fs::path(path) / "model.safetensors.index.json").string();
    if (fs::exists(index_path, ec)) {
      DSV4_ASSIGN_OR_RETURN(std::string text, read_text(index_path));
      DSV4_ASSIGN_OR_RETURN(index, parse_safetensors_index(text, index_path));
      std::set<std::string> needed;
      for (const auto& [name, shard] : index->weight_map)
        if (!wanted || wanted(name)) needed.insert(shard);
      for (const auto& s : index->shards) {
        // A shard this process does not need may be absent (a pipeline stage's machine can hold
        // just its part); one it needs must be there.
        if (!needed.count(s)) continue;
        const std::string p = (fs::path(path) / s).string();
        if (!fs::exists(p, ec)) return error("{}: shard '{}' listed in the index is missing", index_path, s);
        files.push_back(p);
      }
      ck->shards_listed_ = static_cast<int64_t>(index->shards.size());
    } else {
      for (const auto& e : fs::directory_iterator(path, ec))
        if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      if (files.size() != 1)
        return error("{}: no model.safetensors.index.json and {} *.safetensors files (need exactly one)", path,
                     files.size());
    }
  } else {
    return error("{}: no such file or directory", path);
  }

  for (const auto& f : files) {
    DSV4_ASSIGN_OR_RETURN(auto sf, SafetensorsFile::open(f));
    const std::string shard_name = fs::path(f).filename().string();
    for (const auto& t : sf->tensors()) {
      auto [it, inserted] = ck->by_name_.emplace(t.name, &t);
      if (!inserted) return error("{}: tensor '{}' also appears in {}", f, t.name, *it->second->file);
      if (index) {
        auto l = index->weight_map.find(t.name);
        if (l == index->weight_map.end())
          return error("{}: tensor '{}' is not listed in {}", f, t.name, index_path);
        if (l->second != shard_name)
          return error("{}: tensor '{}' is listed in {} under shard '{}'", f, t.name, index_path, l->second);
      }
    }
    ck->shards_.push_back(std::move(sf));
  }
  if (ck->shards_listed_ == 0) ck->shards_listed_ = static_cast<int64_t>(files.size());
  std::set<std::string> opened;
  for (const auto& f : files) opened.insert(fs::path(f).filename().string());
  if (index)
    for (const auto& [name, shard] : index->weight_map)
      if (opened.count(shard) && !ck->by_name_.count(name))
        return error("{}: tensor '{}' is listed in the index but absent from shard {}", index_path, name,
                     (fs::path(path) / shard).string());
  return ck;
}

std::unique_ptr<Checkpoint> Checkpoint::from_tensors(std::string source, std::vector<TensorInfo> tensors,
                                                     std::shared_ptr<const void> keep) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  ck->source_ = std::move(source);
  ck->dir_ = ck->source_;
  ck->format_ = "gguf";
  ck->shards_listed_ = 1;
  ck->own_tensors_ = std::move(tensors);
  ck->keep_ = std::move(keep);
  for (TensorInfo& t : ck->own_tensors_) {
    t.file = &ck->source_;
    ck->by_name_.emplace(t.name, &t);
  }
  return ck;
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const TensorInfo*> Checkpoint::tensors() const {
  std::vector<const TensorInfo*> v;
  v.reserve(by_name_.size());
  for (const auto& [n, t] : by_name_) v.push_back(t);
  return v;
}

}  // namespace dsv4

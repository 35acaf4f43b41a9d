#include "io/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dsv4 {
namespace fs = std::filesystem;

namespace {

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::string& path) {
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  std::error_code ec;
  std::vector<std::string> files;
  std::map<std::string, std::string> listed;  // tensor -> shard file name, from the index
  if (fs::is_regular_file(path, ec)) {
    ck->dir_ = fs::path(path).parent_path().string();
    files.push_back(path);
  } else if (fs::is_directory(path, ec)) {
    ck->dir_ = path;
    const std::string index_path = (fs::path(path) / "model.safetensors.index.json").string();
    if (fs::exists(index_path)) {
      DSV4_ASSIGN_OR_RETURN(std::string text, read_text(index_path));
      auto j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return error("{}: not valid JSON", index_path);
      auto wm = j.find("weight_map");
      if (wm == j.end() || !wm->is_object()) return error("{}: missing weight_map object", index_path);
      std::set<std::string> shard_names;
      for (auto it = wm->begin(); it != wm->end(); ++it) {
        if (!it.value().is_string()) return error("{}: weight_map['{}'] is not a string", index_path, it.key());
        const std::string shard = it.value().get<std::string>();
        if (shard.find('/') != std::string::npos || shard == ".." || shard.empty())
          return error("{}: weight_map['{}'] names an invalid shard '{}'", index_path, it.key(), shard);
        listed[it.key()] = shard;
        shard_names.insert(shard);
      }
      for (const auto& s : shard_names) {
        const std::string p = (fs::path(path) / s).string();
        if (!fs::exists(p)) return error("{}: shard '{}' listed in the index is missing", index_path, s);
        files.push_back(p);
      }
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
      if (!listed.empty()) {
        auto l = listed.find(t.name);
        if (l == listed.end()) return error("{}: tensor '{}' is not listed in the index", f, t.name);
        if (l->second != shard_name)
          return error("{}: tensor '{}' is listed in the index under shard '{}'", f, t.name, l->second);
      }
    }
    ck->shards_.push_back(std::move(sf));
  }
  for (const auto& [name, shard] : listed)
    if (!ck->by_name_.count(name))
      return error("{}: tensor '{}' is listed in the index but absent from the shard", shard, name);
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

#include "train/params.h"

#include <algorithm>

#include "base/check.h"
#include "model/schema.h"

namespace dsv4::train {
namespace {


// The split: Muon for the hidden 2-D matrices (every projection, the router, the
// compressors' projections, the indexer's head weights), AdamW for the embedding, the head and
// every vector or HC / positional parameter.
ParamGroup group_of(const TensorSpec& s) {
  if (s.name.ends_with("gate.bias")) return ParamGroup::kBuffer;
  if (s.name == "embed.weight" || s.name == "head.weight") return ParamGroup::kAdamW;
  if (s.shape.size() != 2) return ParamGroup::kAdamW;
  if (s.name.ends_with("_fn") || s.name.ends_with("ape")) return ParamGroup::kAdamW;
  return ParamGroup::kMuon;
}

}  // namespace

template <typename T>
Params<T>::Params(const ModelConfig& cfg) : cfg_(cfg) {
  int64_t off = 0;
  for (const TensorSpec& s : expected_tensors(cfg)) {
    switch (s.role) {
      case TensorRole::kBlockScale:
      case TensorRole::kFp4Scale:
        continue;
      case TensorRole::kHashTable:
        hash_[s.name].assign(static_cast<size_t>(s.numel()), 0);
        continue;
      default:
        break;
    }
    ParamEntry e;
    e.name = s.name;
    e.shape = s.shape;
    if (s.role == TensorRole::kFp4Weight) e.shape[1] *= 2;
    e.numel = 1;
    for (int64_t v : e.shape) e.numel *= v;
    e.offset = off;
    e.group = group_of(s);
    e.weight_decay = e.shape.size() == 2 && e.group != ParamGroup::kBuffer && !s.name.ends_with("_fn") &&
                     !s.name.ends_with("ape") && s.name != "embed.weight";
    off += e.numel;
    index_[e.name] = entries_.size();
    entries_.push_back(std::move(e));
  }
  values.assign(static_cast<size_t>(off), T(0));
  grads.assign(static_cast<size_t>(off), T(0));
}

template <typename T>
const ParamEntry* Params<T>::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

template <typename T>
T* Params<T>::value(std::string_view name) {
  const ParamEntry* e = find(name);
  DSV4_CHECK(e != nullptr);
  return values.data() + e->offset;
}

template <typename T>
const T* Params<T>::value(std::string_view name) const {
  const ParamEntry* e = find(name);
  DSV4_CHECK(e != nullptr);
  return values.data() + e->offset;
}

template <typename T>
T* Params<T>::grad(std::string_view name) {
  const ParamEntry* e = find(name);
  DSV4_CHECK(e != nullptr);
  return grads.data() + e->offset;
}

template <typename T>
const int32_t* Params<T>::hash_table(std::string_view name) const {
  auto it = hash_.find(name);
  return it == hash_.end() ? nullptr : it->second.data();
}

template <typename T>
void Params<T>::zero_grad() {
  std::fill(grads.begin(), grads.end(), T(0));
}

template class Params<float>;
template class Params<double>;

}  // namespace dsv4::train

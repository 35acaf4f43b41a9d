#include "cache/model_identity.h"

#include <xxhash.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "cache/snapshot_file.h"
#include "io/checkpoint.h"

namespace dsv4::cache {

uint64_t model_fingerprint(const model::Model& m) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  auto add = [&](const void* p, size_t n) { XXH3_64bits_update(st, p, n); };
  auto add_u64 = [&](uint64_t v) { add(&v, sizeof v); };
  add_u64(kSnapshotFormatVersion);
  const Checkpoint& ck = *m.weights().checkpoint;
  std::ifstream cfg(ck.dir() + "/config.json", std::ios::binary);
  const std::string config((std::istreambuf_iterator<char>(cfg)), std::istreambuf_iterator<char>());
  add_u64(config.size());
  add(config.data(), config.size());
  constexpr size_t kSample = 256;
  for (const TensorInfo* t : ck.tensors()) {
    add(t->name.data(), t->name.size() + 1);
    add_u64(static_cast<uint64_t>(t->dtype));
    for (int64_t d : t->shape) add_u64(static_cast<uint64_t>(d));
    add_u64(t->begin);
    add_u64(t->end);
    const size_t n = t->nbytes();
    if (!t->data || n == 0) continue;
    const size_t k = std::min(n, kSample);
    add(t->data, k);
    add(t->data + (n - k) / 2, k);
    add(t->data + n - k, k);
  }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

}  // namespace dsv4::cache

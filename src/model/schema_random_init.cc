#include "model/schema_random_init.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <string_view>
#include <thread>

#include "base/check.h"
#include "base/splitmix64.h"
#include "model/schema.h"
#include "model/weight_quant.h"
#include "tensor/bf16.h"
#include "tensor/fp4.h"
#include "tensor/fp8.h"
#include "tensor/quant.h"

namespace dsv4 {
namespace {

using Rng = SplitMix64;

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// How a tensor's values are drawn. Gaussian std = gain / sqrt(fan_in) for projections; the gains
// are the ones measured on the golden checkpoints (rms * sqrt(fan_in)).
struct Init {
  enum Kind { kNormal, kUniform } kind = kNormal;
  double a = 0, b = 1;  // normal: mean a, std b; uniform: [a, b)
};

Init init_for(const TensorSpec& s, int64_t fan_in) {
  const std::string_view n = s.name;
  const double inv = 1.0 / std::sqrt(static_cast<double>(fan_in));
  if (n == "embed.weight") return {Init::kNormal, 0, 1.0};
  if (n == "head.weight") return {Init::kNormal, 0, 2.5 * inv};
  if (ends_with(n, "norm.weight")) return {Init::kUniform, 0.75, 1.25};  // RMSNorm gains near 1
  if (ends_with(n, "_fn")) return {Init::kNormal, 0, inv};               // HC mixers
  if (ends_with(n, "hc_head_base")) return {Init::kNormal, 0, 0.7};
  if (ends_with(n, "_base")) return {Init::kNormal, 0, 1.0};
  if (ends_with(n, "_scale")) return {Init::kUniform, 0.4, 1.5};
  if (ends_with(n, "attn_sink")) return {Init::kNormal, 0, 1.2};
  if (ends_with(n, "ape")) return {Init::kNormal, 0, 1.0};
  if (ends_with(n, "gate.bias")) return {Init::kNormal, 0, 0.3};
  if (ends_with(n, "gate.weight") || ends_with(n, "wgate.weight")) return {Init::kNormal, 0, 2.0 * inv};
  if (contains(n, "experts.")) {  // shared and routed SwiGLU experts; see apply_hot_units()
    if (contains(n, ".w2.")) return {Init::kNormal, 0, 0.48 * inv};
    return {Init::kNormal, 0, 1.2 * inv};
  }
  return {Init::kNormal, 0, inv};  // attention / MTP projections, compressor wkv, weights_proj
}

// Runs fn(begin, end) over [0, n) in contiguous chunks on up to hardware_concurrency threads
// (one thread below 2 * min_chunk items: small tensors are not worth a thread start).
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t t = std::clamp<int64_t>(n / std::max<int64_t>(1, min_chunk), 1, hw);
  if (t <= 1) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < t; ++i) threads.emplace_back(fn, n * i / t, n * (i + 1) / t);
  fn(0, n / t);
  for (auto& th : threads) th.join();
}

constexpr int64_t kMinChunk = int64_t{1} << 20;

// Draws n values from rng's stream, in parallel; store(i, value) gets the i-th value. Leaves rng
// where the sequential loop would.
template <typename Store>
void draw_into(const Init& init, int64_t n, Rng& rng, const Store& store) {
  const uint64_t per = init.kind == Init::kNormal ? 2 : 1;  // rng outputs per value
  parallel_for(n, kMinChunk, [&](int64_t begin, int64_t end) {
    Rng r = rng;
    r.skip(per * static_cast<uint64_t>(begin));
    for (int64_t i = begin; i < end; ++i)
      store(i, static_cast<float>(init.kind == Init::kNormal ? init.a + init.b * r.normal() : r.uniform(init.a, init.b)));
  });
  rng.skip(per * static_cast<uint64_t>(n));
}

std::vector<float> draw(const Init& init, int64_t n, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  draw_into(init, n, rng, [&](int64_t i, float x) { v[i] = x; });
  return v;
}

// The golden experts (shared and routed) have F/8 "hot" intermediate units per expert: their w1
// and w3 rows are 5x larger (so gate/up values reach the SwiGLU clamp of swiglu_limit) and their
// w2 columns are ~50x smaller (so the clamped units do not blow up the output). The same units are
// hot in w1, w2 and w3 of one expert: they are drawn from the expert's name prefix.
void apply_hot_units(const TensorSpec& s, int64_t rows, int64_t cols, uint64_t seed_mix, std::vector<float>* w) {
  std::string_view n = s.name;
  if (!contains(n, "experts.") || !ends_with(n, ".weight")) return;
  n.remove_suffix(std::string_view(".weight").size());  // "...experts.7.w1"
  const size_t at = n.rfind(".w");
  if (at == std::string_view::npos || n.size() != at + 3) return;
  const char which = n[at + 2];
  if (which != '1' && which != '2' && which != '3') return;
  const int64_t units = which == '2' ? cols : rows;  // the intermediate dimension
  Rng rng(fnv1a(n.substr(0, at + 1)) ^ seed_mix ^ 0x686f74756e697473ull);
  std::vector<int64_t> ids(static_cast<size_t>(units));
  std::iota(ids.begin(), ids.end(), 0);
  const int64_t hot = units / 8;
  for (int64_t i = 0; i < hot; ++i) std::swap(ids[i], ids[i + static_cast<int64_t>(rng.next() % (units - i))]);
  for (int64_t i = 0; i < hot; ++i) {
    const int64_t u = ids[i];
    if (which == '2') {
      for (int64_t r = 0; r < rows; ++r) (*w)[r * cols + u] *= 0.02f;
    } else {
      for (int64_t c = 0; c < cols; ++c) (*w)[u * cols + c] *= 5.0f;
    }
  }
}

template <typename T>
void append_le(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // the engine targets little-endian hosts only
  out.insert(out.end(), b, b + sizeof(T));
}

// tid2eid: for every token, k distinct expert ids in [0, E) (a partial Fisher-Yates shuffle).
void fill_hash_table(int64_t vocab, int k, int n_experts, Rng& rng, TensorBlob* out) {
  out->bytes.reserve(static_cast<size_t>(vocab * k * 8));
  std::vector<int64_t> ids(static_cast<size_t>(n_experts));
  for (int64_t t = 0; t < vocab; ++t) {
    std::iota(ids.begin(), ids.end(), 0);
    for (int i = 0; i < k; ++i) {
      const int j = i + static_cast<int>(rng.next() % static_cast<uint64_t>(n_experts - i));
      std::swap(ids[i], ids[j]);
      append_le<int64_t>(out->bytes, ids[i]);
    }
  }
}

}  // namespace

RandomTensorSource::RandomTensorSource(const ModelConfig& cfg, uint64_t seed)
    : cfg_(cfg), seed_(seed), specs_(expected_tensors(cfg)) {
  for (size_t i = 0; i < specs_.size(); ++i) index_[specs_[i].name] = i;
}

std::vector<uint8_t> RandomTensorSource::take(size_t i) {
  if (auto it = pending_.find(i); it != pending_.end()) {
    std::vector<uint8_t> bytes = std::move(it->second);
    pending_.erase(it);
    return bytes;
  }
  const TensorSpec* s = &specs_[i];
  const uint64_t seed_mix = seed_ * 0x9e3779b97f4a7c15ull + 0x5851f42d4c957f2dull;
  TensorBlob b;
  switch (s->role) {
    case TensorRole::kBlockScale:
    case TensorRole::kFp4Scale:
    case TensorRole::kFp8Weight:
    case TensorRole::kFp4Weight: {
      // A scale is made by quantizing its weight: work from the weight's spec either way.
      const bool is_scale = s->role == TensorRole::kBlockScale || s->role == TensorRole::kFp4Scale;
      const std::string stem = s->name.substr(0, s->name.rfind('.') + 1);  // "...wq_a."
      auto wi = index_.find(stem + "weight"), si = index_.find(stem + "scale");
      DSV4_CHECK(wi != index_.end() && si != index_.end());
      const TensorSpec& ws = specs_[wi->second];
      Rng rng(fnv1a(ws.name) ^ seed_mix);
      const int64_t rows = ws.shape[0];
      const int64_t cols = ws.role == TensorRole::kFp4Weight ? 2 * ws.shape[1] : ws.shape[1];
      std::vector<float> w = draw(init_for(ws, cols), rows * cols, rng);
      apply_hot_units(ws, rows, cols, seed_mix, &w);
      TensorBlob scale;
      if (ws.role == TensorRole::kFp8Weight)
        quantize_fp8(w, rows, cols, cfg_.weight_block_rows, cfg_.weight_block_cols, &b, &scale);
      else
        quantize_fp4(w, rows, cols, cfg_.fp4_block_size, &b, &scale);
      if (is_scale) std::swap(b, scale);
      pending_[is_scale ? wi->second : si->second] = std::move(scale.bytes);
      break;
    }
    case TensorRole::kHashTable: {
      Rng rng(fnv1a(s->name) ^ seed_mix);
      fill_hash_table(s->shape[0], static_cast<int>(s->shape[1]), cfg_.n_routed_experts, rng, &b);
      break;
    }
    case TensorRole::kPlain: {
      Rng rng(fnv1a(s->name) ^ seed_mix);
      const int64_t fan_in = s->shape.size() == 2 ? s->shape[1] : 1;
      b.bytes.resize(static_cast<size_t>(s->nbytes()));
      uint8_t* out = b.bytes.data();
      if (s->dtype == DType::kBF16)
        draw_into(init_for(*s, fan_in), s->numel(), rng, [&](int64_t k, float x) {
          const uint16_t bits = f32_to_bf16(x).bits;
          std::memcpy(out + 2 * k, &bits, 2);  // the engine targets little-endian hosts only
        });
      else
        draw_into(init_for(*s, fan_in), s->numel(), rng, [&](int64_t k, float x) { std::memcpy(out + 4 * k, &x, 4); });
      break;
    }
  }
  return std::move(b.bytes);
}

std::vector<TensorBlob> random_checkpoint_tensors(const ModelConfig& cfg, uint64_t seed) {
  RandomTensorSource src(cfg, seed);
  std::vector<TensorBlob> blobs(src.specs().size());
  for (size_t i = 0; i < blobs.size(); ++i) {
    const TensorSpec& s = src.specs()[i];
    blobs[i] = TensorBlob{s.name, s.dtype, s.shape, src.take(i)};
  }
  return blobs;
}

}  // namespace dsv4

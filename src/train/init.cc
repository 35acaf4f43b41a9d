// Params::init_random: fresh weights for training from scratch. Projections draw N(0, 1/fan_in)
// (output projections scaled down by sqrt(2 * layers), GPT-2 style, so the residual streams do not
// grow with depth); norms start at 1; the HC mixers start near "average the streams in, add the
// output to every stream, mostly keep each stream" (small fn, pre = 1/hc, post = 1, a Sinkhorn
// matrix leaning on the diagonal); sinks, positional biases and selection biases start at 0.
// Each tensor has its own generator seeded from (seed, name): the values do not depend on order.
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string_view>

#include "base/splitmix64.h"
#include "train/params.h"

namespace dsv4::train {
namespace {

// The stream is splitmix64 (base/splitmix64.h); the normal draw keeps this file's Box-Muller form
// (u1 = uniform + 2^-54), which the committed default model was initialized with.
class Rng : public SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  double normal() {
    const double u1 = uniform() + 0x1.0p-54, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}


}  // namespace

template <typename T>
void Params<T>::init_random(uint64_t seed) {
  const ModelConfig& c = cfg_;
  const int hc = c.hc_mult;
  const double depth_scale = 1.0 / std::sqrt(2.0 * (c.num_hidden_layers + c.num_nextn_predict_layers));
  const double logit_pre = std::log(1.0 / (hc - 1.0));  // sigmoid = 1 / hc
  for (const ParamEntry& e : entries_) {
    T* v = values.data() + e.offset;
    const std::string_view n = e.name;
    Rng rng(fnv1a(n) ^ (seed * 0x9e3779b97f4a7c15ull + 0x5851f42d4c957f2dull));
    auto fill_normal = [&](double sd) {
      for (int64_t i = 0; i < e.numel; ++i) v[i] = static_cast<T>(sd * rng.normal());
    };
    auto fill = [&](double x) {
      for (int64_t i = 0; i < e.numel; ++i) v[i] = static_cast<T>(x);
    };
    const int64_t fan_in = e.shape.size() == 2 ? e.shape[1] : 1;
    if (n == "embed.weight") {
      fill_normal(1.0);
    } else if (n == "head.weight") {
      fill_normal(0.5 / std::sqrt(double(fan_in)));
    } else if (n.ends_with("norm.weight")) {
      fill(1.0);
    } else if (n.ends_with("_fn")) {
      fill_normal(0.1 / std::sqrt(double(fan_in)));
    } else if (n.ends_with("hc_head_base")) {
      fill(logit_pre);
    } else if (n.ends_with("_base")) {  // [pre(hc) | post(hc) | comb(hc x hc)]
      for (int k = 0; k < hc; ++k) {
        v[k] = static_cast<T>(logit_pre);
        v[hc + k] = T(0);
        for (int j = 0; j < hc; ++j) v[2 * hc + j * hc + k] = static_cast<T>(j == k ? 2.0 : 0.0);
      }
    } else if (n.ends_with("_scale")) {
      fill(1.0);
    } else if (n.ends_with("attn_sink") || n.ends_with("ape") || n.ends_with("gate.bias")) {
      fill(0.0);
    } else if (n.ends_with("wo_b.weight") || (n.find("experts") != n.npos && n.find(".w2.") != n.npos)) {
      fill_normal(depth_scale / std::sqrt(double(fan_in)));
    } else {
      fill_normal(1.0 / std::sqrt(double(fan_in)));
    }
  }
  // Hash routing: every token gets k distinct experts (a partial Fisher-Yates shuffle).
  const int E = c.n_routed_experts, k = c.num_experts_per_tok;
  for (auto& [name, table] : hash_) {
    Rng rng(fnv1a(name) ^ seed);
    std::vector<int32_t> ids(E);
    for (int64_t t = 0; t < c.vocab_size; ++t) {
      std::iota(ids.begin(), ids.end(), 0);
      for (int i = 0; i < k; ++i) {
        std::swap(ids[i], ids[i + static_cast<int>(rng.next() % static_cast<uint64_t>(E - i))]);
        table[t * k + i] = ids[i];
      }
    }
  }
}

template void Params<float>::init_random(uint64_t);
template void Params<double>::init_random(uint64_t);

}  // namespace dsv4::train

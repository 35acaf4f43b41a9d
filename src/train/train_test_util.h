// Shared by the trainer's tests: a tiny V4 config with every layer kind (hash + window, CSA with
// the indexer, HCA, MTP), and central finite differences in float64.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "base/splitmix64.h"
#include "io/config.h"
#include "train/params.h"

namespace dsv4::train::testing {

inline std::string tiny_config_json(int vocab = 48) {
  return R"({
  "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
  "vocab_size": )" + std::to_string(vocab) + R"(, "hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2,
  "num_key_value_heads": 1, "head_dim": 72, "qk_rope_head_dim": 8, "q_lora_rank": 16, "o_groups": 2,
  "o_lora_rank": 8, "sliding_window": 4, "index_n_heads": 2, "index_head_dim": 32, "index_topk": 2,
  "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
  "num_hash_layers": 1, "num_nextn_predict_layers": 1, "compress_ratios": [0, 4, 8, 0],
  "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "rms_norm_eps": 1e-6, "rope_theta": 10000,
  "compress_rope_theta": 160000, "max_position_embeddings": 4096,
  "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 64, "beta_fast": 32, "beta_slow": 1},
  "routed_scaling_factor": 1.5, "scoring_func": "sqrtsoftplus", "norm_topk_prob": true, "topk_method": "noaux_tc",
  "swiglu_limit": 10.0, "hidden_act": "silu", "expert_dtype": "fp4", "torch_dtype": "bfloat16",
  "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": false,
  "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                          "scale_fmt": "ue8m0", "weight_block_size": [128, 128]}
})";
}

inline ModelConfig tiny_config(int vocab = 48) {
  auto c = parse_model_config(tiny_config_json(vocab), "tiny");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

// Random values everywhere (not just the initialization's zeros and ones), so every gradient
// path carries signal.
template <typename T>
void randomize(Params<T>& ps, uint64_t seed, double sd = 0.3) {
  ps.init_random(seed);
  SplitMix64 rng(seed * 7 + 1);
  for (auto& v : ps.values) v += static_cast<T>(sd * rng.normal() * (std::fabs(static_cast<double>(v)) + 0.1));
}

// Compares grad[i] with (f(x + h) - f(x - h)) / 2h at up to `samples` indices of [0, n).
// Returns the largest relative error |a - n| / max(|a| + |n|, floor).
inline double max_fd_error(double* x, const double* grad, int64_t n, int samples, const std::function<double()>& f,
                           double h = 1e-5, double floor = 1e-7, std::string* where = nullptr) {
  double worst = 0;
  const int64_t step = std::max<int64_t>(1, n / samples);
  for (int64_t i = 0; i < n; i += step) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double fp = f();
    x[i] = x0 - h;
    const double fm = f();
    x[i] = x0;
    const double num = (fp - fm) / (2 * h);
    const double err = std::fabs(num - grad[i]) / std::max(std::fabs(num) + std::fabs(grad[i]), floor);
    if (err > worst) {
      worst = err;
      if (where) *where = "index " + std::to_string(i) + ": analytic " + std::to_string(grad[i]) + ", numeric " +
                          std::to_string(num);
    }
  }
  return worst;
}

}  // namespace dsv4::train::testing

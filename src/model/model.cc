#include "model/model.h"

#include "kernels/linear.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "model/hyper_conn.h"
#include "model/linear_dispatch.h"

namespace dsv4::model {

Result<std::unique_ptr<Model>> Model::load(const std::string& dir) {
  DSV4_ASSIGN_OR_RETURN(auto w, load_weights(dir));
  const ModelConfig& c = w->config;
  // tid2eid holds expert ids used as indices: validate them once here.
  for (const auto& L : w->layers) {
    if (!L.tid2eid) continue;
    const int64_t n = c.vocab_size * c.num_experts_per_tok;
    for (int64_t i = 0; i < n; ++i)
      if (L.tid2eid[i] < 0 || L.tid2eid[i] >= c.n_routed_experts)
        return error("{}: layers.{}.ffn.gate.tid2eid holds expert id {} outside [0, {})", dir, L.spec.index,
                     L.tid2eid[i], c.n_routed_experts);
  }
  return std::make_unique<Model>(std::move(w));
}

Model::Model(std::unique_ptr<ModelWeights> w)
    : w_(std::move(w)), rope_window_(w_->config, false), rope_compressed_(w_->config, true) {}

void Model::init_state(int layer, LayerState& st) const {
  const int nl = config().num_hidden_layers;
  init_layer_state(config(), layer < nl ? w_->layers[layer] : w_->mtp[layer - nl], st);
}

Sequence Model::new_sequence() const {
  Sequence s;
  s.layers.resize(w_->layers.size());
  for (size_t i = 0; i < s.layers.size(); ++i) init_state(static_cast<int>(i), s.layers[i]);
  s.mtp.resize(w_->mtp.size());
  for (size_t i = 0; i < s.mtp.size(); ++i) init_state(config().num_hidden_layers + static_cast<int>(i), s.mtp[i]);
  return s;
}

Status Model::check_tokens(std::span<const int32_t> tokens) const {
  for (int32_t t : tokens)
    if (t < 0 || t >= config().vocab_size)
      return error("token id {} is outside the vocabulary [0, {})", t, config().vocab_size);
  return ok_status();
}

void Model::embed(std::span<const int32_t> tokens, float* x) const {
  const int64_t d = config().hidden_size;
  const int hc = config().hc_mult;
  for (size_t t = 0; t < tokens.size(); ++t)
    for (int k = 0; k < hc; ++k)
      for (int64_t i = 0; i < d; ++i) x[(t * hc + k) * d + i] = bf16_to_f32(w_->embed[tokens[t] * d + i]);
}

void Model::run_layer(int layer, LayerState& st, float* x, const int32_t* tokens, int64_t n, int64_t pos0,
                      LayerTrace* trace) const {
  const int nl = config().num_hidden_layers;
  const LayerWeights& w = layer < nl ? w_->layers[layer] : w_->mtp[layer - nl];
  const RopeTable& rope = w.spec.compress_ratio > 0 ? rope_compressed_ : rope_window_;
  block_forward(config(), w, rope, st, x, tokens, n, pos0, trace);
}

void Model::head_logits(const float* x_final, float* logits) const {
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size;
  std::vector<float> h(d);
  hc_head(x_final, w_->hc_head, c.hc_mult, d, static_cast<float>(c.rms_norm_eps), static_cast<float>(c.hc_eps),
          h.data());
  kernels::rms_norm(h.data(), w_->norm, d, static_cast<float>(c.rms_norm_eps), h.data());
  kernels::linear_bf16(h.data(), 1, w_->head, c.vocab_size, d, logits, false);
}

Result<std::vector<float>> Model::forward(Sequence& seq, std::span<const int32_t> tokens, int64_t n_out,
                                          std::vector<float>* final_state) const {
  DSV4_TRY(check_tokens(tokens));
  const ModelConfig& c = config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n_out < 0 || n_out > n) return error("asked for {} logit rows from {} tokens", n_out, n);
  const int64_t row = c.hc_dim();
  std::vector<float> x(n * row);
  embed(tokens, x.data());
  for (int l = 0; l < c.num_hidden_layers; ++l) run_layer(l, seq.layers[l], x.data(), tokens.data(), n, seq.pos, nullptr);
  seq.pos += n;
  std::vector<float> logits(n_out * c.vocab_size);
  for (int64_t i = 0; i < n_out; ++i) head_logits(&x[(n - n_out + i) * row], &logits[i * c.vocab_size]);
  if (final_state) *final_state = std::move(x);
  return logits;
}

Result<std::vector<float>> Model::mtp_forward(Sequence& seq, const float* h, std::span<const int32_t> next_tokens,
                                              std::vector<float>* block_out) const {
  if (w_->mtp.empty()) return error("this checkpoint has no MTP block");
  DSV4_TRY(check_tokens(next_tokens));
  const ModelConfig& c = config();
  const LayerWeights& w = w_->mtp[0];
  const int64_t n = static_cast<int64_t>(next_tokens.size()), d = c.hidden_size;
  const int hc = c.hc_mult;
  const float eps = static_cast<float>(c.rms_norm_eps);
  // x_k = e_proj(enorm(embed(tok))) + h_proj(hnorm(h_k)), per stream k, added in bf16.
  std::vector<float> e(n * d), ep(n * d), hn(n * hc * d), hp(n * hc * d), x(n * hc * d);
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < d; ++i) e[t * d + i] = bf16_to_f32(w_->embed[next_tokens[t] * d + i]);
    kernels::rms_norm(&e[t * d], w.enorm, d, eps, &e[t * d]);
    for (int k = 0; k < hc; ++k) kernels::rms_norm(&h[(t * hc + k) * d], w.hnorm, d, eps, &hn[(t * hc + k) * d]);
  }
  linear_forward(w.e_proj, e.data(), n, ep.data());
  linear_forward(w.h_proj, hn.data(), n * hc, hp.data());
  for (int64_t t = 0; t < n; ++t)
    for (int k = 0; k < hc; ++k)
      for (int64_t i = 0; i < d; ++i) x[(t * hc + k) * d + i] = round_bf16(ep[t * d + i] + hp[(t * hc + k) * d + i]);
  run_layer(c.num_hidden_layers, seq.mtp[0], x.data(), next_tokens.data(), n, seq.mtp_pos, nullptr);
  seq.mtp_pos += n;
  std::vector<float> hh(d), logits(c.vocab_size);
  hc_head(&x[(n - 1) * hc * d], w.mtp_head, hc, d, eps, static_cast<float>(c.hc_eps), hh.data());
  kernels::rms_norm(hh.data(), w.mtp_norm, d, eps, hh.data());
  kernels::linear_bf16(hh.data(), 1, w_->head, c.vocab_size, d, logits.data(), false);
  if (block_out) *block_out = std::move(x);
  return logits;
}

}  // namespace dsv4::model

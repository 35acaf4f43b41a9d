#include "model/model.h"

#include <algorithm>

#include "base/profile.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "model/hyper_conn.h"
#include "model/linear_dispatch.h"

namespace dsv4::model {

Result<std::unique_ptr<Model>> Model::load(const std::string& dir) { return load(dir, Placement{}); }

Result<std::unique_ptr<Model>> Model::load(const std::string& dir, const Placement& p) {
  DSV4_ASSIGN_OR_RETURN(auto w, load_weights(dir, p));
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

void Model::set_expert_link(ExpertLink* l) {
  for (auto* v : {&w_->layers, &w_->mtp})
    for (auto& L : *v)
      if (L.loaded) L.expert_link = l;
}

void Model::init_state(int layer, LayerState& st) const {
  const int nl = config().num_hidden_layers;
  init_layer_state(config(), layer < nl ? w_->layers[layer] : w_->mtp[layer - nl], st);
}

Sequence Model::new_sequence() const {
  Sequence s;
  s.layers.resize(w_->layers.size());
  for (size_t i = 0; i < s.layers.size(); ++i)
    if (w_->layers[i].loaded) init_state(static_cast<int>(i), s.layers[i]);
  s.mtp.resize(w_->mtp.size());
  for (size_t i = 0; i < s.mtp.size(); ++i)
    if (w_->mtp[i].loaded) init_state(config().num_hidden_layers + static_cast<int>(i), s.mtp[i]);
  return s;
}

Status Model::check_tokens(std::span<const int32_t> tokens) const {
  for (int32_t t : tokens)
    if (t < 0 || t >= config().vocab_size)
      return error("token id {} is outside the vocabulary [0, {})", t, config().vocab_size);
  return ok_status();
}

void Model::embed(std::span<const int32_t> tokens, float* x) const {
  DSV4_PROFILE_SCOPE("embed");
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

void Model::head_logits(const float* x_final, float* logits) const { head_logits_rows(x_final, 0, 1, logits); }

void Model::head_logits_rows(const float* x_final, int64_t stride, int64_t m, float* logits) const {
  DSV4_PROFILE_SCOPE("head");
  const ModelConfig& c = config();
  const int64_t d = c.hidden_size;
  std::vector<float> h(m * d);
  for (int64_t r = 0; r < m; ++r) {
    hc_head(x_final + r * stride, w_->hc_head, c.hc_mult, d, static_cast<float>(c.rms_norm_eps),
            static_cast<float>(c.hc_eps), &h[r * d]);
    kernels::rms_norm(&h[r * d], w_->norm, d, static_cast<float>(c.rms_norm_eps), &h[r * d]);
  }
  // One GEMM for all rows: the head (the largest bf16 matrix) is read once per call.
  kernels::linear_bf16(h.data(), m, w_->head, c.vocab_size, d, logits, false);
}

Result<std::vector<float>> Model::forward(Sequence& seq, std::span<const int32_t> tokens, int64_t n_out,
                                          std::vector<float>* final_state) const {
  if (stage_link_) {
    const SeqInput in{&seq, tokens, n_out, final_state != nullptr};
    DSV4_ASSIGN_OR_RETURN(auto out, forward_batch(std::span<const SeqInput>(&in, 1)));
    if (final_state) *final_state = std::move(out[0].states);
    return std::move(out[0].logits);
  }
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
  if (n_out > 0) head_logits_rows(&x[(n - n_out) * row], row, n_out, logits.data());
  if (final_state) *final_state = std::move(x);
  return logits;
}

Result<std::vector<SeqOutput>> Model::forward_batch(std::span<const SeqInput> inputs) const {
  const ModelConfig& c = config();
  int64_t n = 0, n_out = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SeqInput& in = inputs[i];
    if (!in.seq) return error("batch input {} has no sequence", i);
    for (size_t j = 0; j < i; ++j)
      if (inputs[j].seq == in.seq) return error("batch inputs {} and {} name the same sequence", j, i);
    DSV4_TRY(check_tokens(in.tokens));
    const int64_t len = static_cast<int64_t>(in.tokens.size());
    if (in.n_out < 0 || in.n_out > len) return error("asked for {} logit rows from {} tokens", in.n_out, len);
    n += len;
    n_out += in.n_out;
  }
  std::vector<SeqOutput> out(inputs.size());
  if (n == 0) return out;
  std::vector<int32_t> tokens;
  tokens.reserve(n);
  for (const SeqInput& in : inputs) tokens.insert(tokens.end(), in.tokens.begin(), in.tokens.end());
  const int64_t row = c.hc_dim();
  std::vector<float> x(n * row);
  embed(tokens, x.data());
  std::vector<Sequence*> seqs;
  std::vector<int64_t> lens, row0, out0;  // per input: rows, first row, first output row
  for (const SeqInput& in : inputs) {
    seqs.push_back(in.seq);
    row0.push_back(lens.empty() ? 0 : row0.back() + lens.back());
    out0.push_back(out0.empty() ? 0 : out0.back() + inputs[out0.size() - 1].n_out);
    lens.push_back(static_cast<int64_t>(in.tokens.size()));
  }
  // Groups of consecutive inputs, balanced by rows: with a pipeline, the later stages work on one
  // group while this process runs its layers on the next (rows never depend on their batch).
  const size_t n_groups = stage_link_ ? std::min<size_t>(inputs.size(), std::max(1, stage_link_->micro_batches())) : 1;
  std::vector<size_t> first{0};
  for (size_t g = 1; g < n_groups; ++g) {
    size_t i = first.back() + 1;
    while (i < inputs.size() - (n_groups - g) && row0[i] * static_cast<int64_t>(n_groups) < n * static_cast<int64_t>(g)) ++i;
    first.push_back(i);
  }
  first.push_back(inputs.size());
  const auto group_rows = [&](size_t g) { return row0[first[g + 1] - 1] + lens[first[g + 1] - 1] - row0[first[g]]; };
  for (size_t g = 0; g < n_groups; ++g) {
    const size_t a = first[g], b = first[g + 1];
    const int64_t r = row0[a], m = group_rows(g);
    run_main_layers(std::span(seqs).subspan(a, b - a), std::span(lens).subspan(a, b - a), tokens.data() + r, m,
                    x.data() + r * row);
    if (!stage_link_) continue;
    std::vector<RemoteSegment> rs;  // each sequence's state on the later stages, forked if shared
    for (size_t i = a; i < b; ++i) {
      auto& h = inputs[i].seq->remote;
      if (!h) {
        h = std::make_shared<RemoteState>(stage_link_, stage_link_->new_id());
      } else if (h.use_count() > 1) {
        auto fork = std::make_shared<RemoteState>(stage_link_, stage_link_->new_id());
        stage_link_->clone(h->id, fork->id);
        h = std::move(fork);
      }
      rs.push_back({h->id, lens[i], inputs[i].seq->pos});
    }
    stage_link_->submit(rs, tokens.data() + r, m, x.data() + r * row);
  }
  // Each group's output rows through the head as soon as its rows are back.
  std::vector<float> xo(n_out * row), logits(n_out * c.vocab_size);
  for (size_t g = 0; g < n_groups; ++g) {
    if (stage_link_) stage_link_->collect();
    const size_t a = first[g], b = first[g + 1];
    for (size_t i = a; i < b; ++i) {
      const int64_t end = row0[i] + lens[i];
      std::copy(x.data() + (end - inputs[i].n_out) * row, x.data() + end * row, xo.data() + out0[i] * row);
    }
    const int64_t m = (b < inputs.size() ? out0[b] : n_out) - out0[a];
    if (m > 0) head_logits_rows(xo.data() + out0[a] * row, row, m, logits.data() + out0[a] * c.vocab_size);
  }
  int64_t r0 = 0, o = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t len = static_cast<int64_t>(inputs[i].tokens.size());
    if (inputs[i].want_states) out[i].states.assign(x.data() + r0 * row, x.data() + (r0 + len) * row);
    r0 += len;
  }
  o = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SeqInput& in = inputs[i];
    out[i].logits.assign(logits.data() + o * c.vocab_size, logits.data() + (o + in.n_out) * c.vocab_size);
    o += in.n_out;
    in.seq->pos += static_cast<int64_t>(in.tokens.size());
  }
  return out;
}

void Model::run_main_layers(std::span<Sequence* const> seqs, std::span<const int64_t> lens, const int32_t* tokens,
                            int64_t n, float* x) const {
  const ModelConfig& c = config();
  std::vector<Segment> segs(seqs.size());
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& w = w_->layers[l];
    if (!w.loaded) continue;
    int64_t r0 = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      segs[i] = Segment{&seqs[i]->layers[l], r0, lens[i], seqs[i]->pos};
      r0 += lens[i];
    }
    block_forward(c, w, w.spec.compress_ratio > 0 ? rope_compressed_ : rope_window_, segs, x, tokens, n, nullptr);
  }
}

void Model::run_stage(std::span<Sequence* const> seqs, std::span<const int64_t> lens, const int32_t* tokens, int64_t n,
                      float* x) const {
  run_main_layers(seqs, lens, tokens, n, x);
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i]->pos += lens[i];
}

void Model::mtp_head_logits(const float* block_out, int64_t m, float* logits) const {
  const ModelConfig& c = config();
  const LayerWeights& w = w_->mtp[0];
  const int64_t d = c.hidden_size;
  const int hc = c.hc_mult;
  const float eps = static_cast<float>(c.rms_norm_eps);
  std::vector<float> hh(m * d);
  for (int64_t i = 0; i < m; ++i) {
    hc_head(&block_out[i * hc * d], w.mtp_head, hc, d, eps, static_cast<float>(c.hc_eps), &hh[i * d]);
    kernels::rms_norm(&hh[i * d], w.mtp_norm, d, eps, &hh[i * d]);
  }
  kernels::linear_bf16(hh.data(), m, w_->head, c.vocab_size, d, logits, false);  // the shared LM head
}

Result<std::vector<float>> Model::mtp_forward(Sequence& seq, const float* h, std::span<const int32_t> next_tokens,
                                              std::vector<float>* block_out) const {
  const MtpInput in{&seq, h, next_tokens};
  std::vector<std::vector<float>> logits;
  DSV4_TRY(mtp_rows(std::span<const MtpInput>(&in, 1), &logits, block_out));
  return std::move(logits[0]);
}

Result<std::vector<std::vector<float>>> Model::mtp_forward_batch(std::span<const MtpInput> inputs) const {
  std::vector<std::vector<float>> logits;
  DSV4_TRY(mtp_rows(inputs, &logits, nullptr));
  return logits;
}

Status Model::mtp_rows(std::span<const MtpInput> inputs, std::vector<std::vector<float>>* logits,
                       std::vector<float>* block_out) const {
  DSV4_PROFILE_SCOPE("mtp");
  if (w_->mtp.empty()) return error("this checkpoint has no MTP block");
  const ModelConfig& c = config();
  int64_t n = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].seq) return error("MTP input {} has no sequence", i);
    if (inputs[i].next_tokens.empty()) return error("MTP input {} has no tokens", i);
    for (size_t j = 0; j < i; ++j)
      if (inputs[j].seq == inputs[i].seq) return error("MTP inputs {} and {} name the same sequence", j, i);
    DSV4_TRY(check_tokens(inputs[i].next_tokens));
    n += static_cast<int64_t>(inputs[i].next_tokens.size());
  }
  const LayerWeights& w = w_->mtp[0];
  const int64_t d = c.hidden_size;
  const int hc = c.hc_mult;
  const float eps = static_cast<float>(c.rms_norm_eps);
  std::vector<int32_t> tokens;
  std::vector<float> e(n * d), ep(n * d), hn(n * hc * d), hp(n * hc * d), x(n * hc * d);
  for (const MtpInput& in : inputs) {
    const int64_t t0 = static_cast<int64_t>(tokens.size());
    tokens.insert(tokens.end(), in.next_tokens.begin(), in.next_tokens.end());
    for (int64_t j = 0; j < static_cast<int64_t>(in.next_tokens.size()); ++j)
      for (int k = 0; k < hc; ++k)
        std::copy(in.h + (j * hc + k) * d, in.h + (j * hc + k + 1) * d, hn.data() + ((t0 + j) * hc + k) * d);
  }
  // x_k = e_proj(enorm(embed(tok))) + h_proj(hnorm(h_k)), per stream k, added in bf16.
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < d; ++i) e[t * d + i] = bf16_to_f32(w_->embed[tokens[t] * d + i]);
    kernels::rms_norm(&e[t * d], w.enorm, d, eps, &e[t * d]);
    for (int k = 0; k < hc; ++k) kernels::rms_norm(&hn[(t * hc + k) * d], w.hnorm, d, eps, &hn[(t * hc + k) * d]);
  }
  linear_forward(w.e_proj, e.data(), n, ep.data());
  linear_forward(w.h_proj, hn.data(), n * hc, hp.data());
  for (int64_t t = 0; t < n; ++t)
    for (int k = 0; k < hc; ++k)
      for (int64_t i = 0; i < d; ++i) x[(t * hc + k) * d + i] = round_bf16(ep[t * d + i] + hp[(t * hc + k) * d + i]);
  std::vector<Segment> segs(inputs.size());
  int64_t r0 = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t len = static_cast<int64_t>(inputs[i].next_tokens.size());
    segs[i] = Segment{&inputs[i].seq->mtp[0], r0, len, inputs[i].seq->mtp_pos};
    r0 += len;
  }
  block_forward(c, w, w.spec.compress_ratio > 0 ? rope_compressed_ : rope_window_, segs, x.data(), tokens.data(), n,
                nullptr);
  // The head on each input's last pair, all rows in one GEMM.
  const int64_t m = static_cast<int64_t>(inputs.size());
  std::vector<float> last(m * hc * d), all(m * c.vocab_size);
  r0 = 0;
  for (int64_t i = 0; i < m; ++i) {
    r0 += static_cast<int64_t>(inputs[i].next_tokens.size());
    std::copy(x.data() + (r0 - 1) * hc * d, x.data() + r0 * hc * d, last.data() + i * hc * d);
    inputs[i].seq->mtp_pos += static_cast<int64_t>(inputs[i].next_tokens.size());
  }
  mtp_head_logits(last.data(), m, all.data());
  logits->resize(m);
  for (int64_t i = 0; i < m; ++i) (*logits)[i].assign(all.data() + i * c.vocab_size, all.data() + (i + 1) * c.vocab_size);
  if (block_out) *block_out = std::move(x);
  return ok_status();
}

}  // namespace dsv4::model

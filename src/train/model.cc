#include "train/model.h"

#include <algorithm>
#include <cmath>

#include "train/gemm.h"
#include "train/ops.h"

namespace dsv4::train {
namespace {

// HC head, final norm, LM head and the mean cross-entropy of rows whose target >= 0. With
// dscale != 0 also the backward: dx += d(dscale * loss)/dx, parameter gradients +=.
template <typename T>
T head_loss(const ModelConfig& c, const HcParams<T>& hc, const P<T>& norm, const P<T>& head, const T* x, int64_t n,
            const int32_t* target, T dscale, std::vector<T>* logits_out, T* dx) {
  const int64_t d = c.hidden_size, V = c.vocab_size;
  const T eps = static_cast<T>(c.rms_norm_eps);
  HcHeadCache<T> hcache;
  std::vector<T> h(n * d), hn(n * d), r(n), logits(n * V);
  hc_head_fwd(c, hc, x, n, h.data(), hcache);
  for (int64_t t = 0; t < n; ++t) r[t] = rmsnorm_fwd(&h[t * d], norm.v, d, eps, &hn[t * d]);
  linear_fwd(hn.data(), head.v, n, d, V, logits.data());
  if (logits_out) *logits_out = logits;
  if (!target) return T(0);
  int64_t count = 0;
  for (int64_t t = 0; t < n; ++t) count += target[t] >= 0;
  if (count == 0) return T(0);
  T loss = 0;
  std::vector<T> dlogits(n * V, T(0));
  for (int64_t t = 0; t < n; ++t) {
    if (target[t] < 0) continue;
    const T* l = &logits[t * V];
    const T mx = *std::max_element(l, l + V);
    T z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(l[v] - mx);
    const T logz = mx + std::log(z);
    loss -= l[target[t]] - logz;
    for (int64_t v = 0; v < V; ++v) dlogits[t * V + v] = std::exp(l[v] - logz) * dscale / T(count);
    dlogits[t * V + target[t]] -= dscale / T(count);
  }
  if (dscale != T(0)) {
    std::vector<T> dhn(n * d, T(0)), dh(n * d, T(0));
    linear_bwd(dlogits.data(), hn.data(), head.v, n, d, V, dhn.data(), head.g);
    for (int64_t t = 0; t < n; ++t) rmsnorm_bwd(&h[t * d], norm.v, r[t], &dhn[t * d], d, &dh[t * d], norm.g);
    hc_head_bwd(c, hc, x, n, hcache, dh.data(), dx);
  }
  return loss / T(count);
}

}  // namespace

template <typename T>
TrainModel<T>::TrainModel(Params<T>& params, LossWeights w) : ps_(params), w_(w) {
  for (const LayerSpec& l : ps_.config().layers()) {
    if (l.is_mtp && l.index > ps_.config().num_hidden_layers) break;  // the first MTP block only
    blocks_.push_back(block_params(ps_, l));
  }
}

template <typename T>
const RopeRows& TrainModel<T>::rope_for(const LayerSpec& l, int64_t positions) {
  RopeRows& r = l.compress_ratio > 0 ? rope_comp_ : rope_window_;
  if (r.cos.size() < static_cast<size_t>(positions * std::max<int64_t>(1, r.n_pairs)) || r.n_pairs == 0)
    r = make_rope_rows(ps_.config(), l.compress_ratio > 0, positions);
  return r;
}

template <typename T>
void TrainModel<T>::forward(const int32_t* tokens, int64_t b, int64_t s, int64_t row_stride) {
  const ModelConfig& c = ps_.config();
  const int64_t n = b * s, d = c.hidden_size, len = c.hc_dim();
  in_.resize(n);
  for (int64_t q = 0; q < b; ++q) std::copy_n(tokens + q * row_stride, s, &in_[q * s]);
  std::vector<T> x(n * len);
  const T* embed = ps_.value("embed.weight");
  for (int64_t t = 0; t < n; ++t)
    for (int k = 0; k < c.hc_mult; ++k) std::copy_n(embed + static_cast<int64_t>(in_[t]) * d, d, &x[t * len + k * d]);
  const int nl = c.num_hidden_layers;
  caches_.resize(blocks_.size());
  std::vector<T> next(n * len);
  for (int l = 0; l < nl; ++l) {
    const BlockParams<T>& bp = blocks_[l];
    block_fwd(c, bp, rope_for(bp.spec, s + 1), x.data(), in_.data(), b, s, 0, next.data(), caches_[l]);
    std::swap(x, next);
  }
  xf_ = std::move(x);
}

template <typename T>
std::vector<T> TrainModel<T>::logits(const int32_t* tokens, int64_t b, int64_t s) {
  forward(tokens, b, s, s);
  std::vector<T> out;
  head_loss<T>(ps_.config(), {param(ps_, "hc_head_fn"), param(ps_, "hc_head_base"), param(ps_, "hc_head_scale")},
               param(ps_, "norm.weight"), param(ps_, "head.weight"), xf_.data(), static_cast<int64_t>(in_.size()),
               nullptr, T(0), &out, nullptr);
  return out;
}

template <typename T>
StepLoss<T> TrainModel<T>::step(const int32_t* tokens, int64_t b, int64_t s, bool backward) {
  const ModelConfig& c = ps_.config();
  const int64_t n = b * s, d = c.hidden_size, len = c.hc_dim(), hc = c.hc_mult;
  const T eps = static_cast<T>(c.rms_norm_eps);
  forward(tokens, b, s, s + 1);
  std::vector<int32_t> target(n);
  for (int64_t q = 0; q < b; ++q)
    for (int64_t i = 0; i < s; ++i) target[q * s + i] = tokens[q * (s + 1) + i + 1];
  StepLoss<T> loss;
  const P<T> norm = param(ps_, "norm.weight"), head = param(ps_, "head.weight");
  const HcParams<T> hc_head{param(ps_, "hc_head_fn"), param(ps_, "hc_head_base"), param(ps_, "hc_head_scale")};
  std::vector<T> dxf(n * len, T(0));
  loss.main = head_loss<T>(c, hc_head, norm, head, xf_.data(), n, target.data(), backward ? T(1) : T(0), nullptr,
                           dxf.data());

  // MTP: position i of a row (i < s - 1) joins the final state at i with the embedding of id i + 1
  // and predicts id i + 2, at position i + 1.
  const bool mtp = blocks_.size() > static_cast<size_t>(c.num_hidden_layers) && s >= 2 && w_.mtp > 0;
  const T* embed = ps_.value("embed.weight");
  T* dembed = ps_.grad("embed.weight");
  if (mtp) {
    BlockParams<T>& mp = blocks_[c.num_hidden_layers];
    const int64_t sm = s - 1, nm = b * sm;
    std::vector<T> e_raw(nm * d), e(nm * d), e_r(nm), ep(nm * d), hx(nm * len), h_r(nm * hc), hp(nm * hc * d);
    std::vector<int32_t> next_ids(nm), mtp_target(nm);
    for (int64_t q = 0; q < b; ++q)
      for (int64_t i = 0; i < sm; ++i) {
        const int64_t t = q * sm + i;
        next_ids[t] = tokens[q * (s + 1) + i + 1];
        mtp_target[t] = tokens[q * (s + 1) + i + 2];
        std::copy_n(embed + static_cast<int64_t>(next_ids[t]) * d, d, &e_raw[t * d]);
        e_r[t] = rmsnorm_fwd(&e_raw[t * d], mp.enorm.v, d, eps, &e[t * d]);
        for (int64_t k = 0; k < hc; ++k)
          h_r[t * hc + k] = rmsnorm_fwd(&xf_[(q * s + i) * len + k * d], mp.hnorm.v, d, eps, &hx[t * len + k * d]);
      }
    linear_fwd(e.data(), mp.e_proj.v, nm, d, d, ep.data());
    linear_fwd(hx.data(), mp.h_proj.v, nm * hc, d, d, hp.data());
    std::vector<T> xin(nm * len), xout(nm * len);
    for (int64_t t = 0; t < nm; ++t)
      for (int64_t k = 0; k < hc; ++k)
        for (int64_t i = 0; i < d; ++i) xin[t * len + k * d + i] = ep[t * d + i] + hp[(t * hc + k) * d + i];
    BlockCache<T>& mc = caches_[c.num_hidden_layers];
    const RopeRows& rope = rope_for(mp.spec, s + 1);
    block_fwd(c, mp, rope, xin.data(), next_ids.data(), b, sm, 1, xout.data(), mc);
    std::vector<T> dxout(nm * len, T(0));
    loss.mtp = head_loss<T>(c, mp.mtp_head, mp.mtp_norm, head, xout.data(), nm, mtp_target.data(),
                            backward ? static_cast<T>(w_.mtp) : T(0), nullptr, dxout.data());
    loss.mtp_weight = static_cast<T>(w_.mtp);
    if (backward) {
      std::vector<T> dxin(nm * len);
      block_bwd(c, mp, rope, b, sm, 1, mc, dxout.data(), dxin.data(), static_cast<T>(w_.indexer));
      std::vector<T> dep(nm * d, T(0)), dhp(nm * hc * d), dhx(nm * len, T(0)), de(nm * d, T(0));
      for (int64_t t = 0; t < nm; ++t)
        for (int64_t k = 0; k < hc; ++k)
          for (int64_t i = 0; i < d; ++i) {
            dep[t * d + i] += dxin[t * len + k * d + i];
            dhp[(t * hc + k) * d + i] = dxin[t * len + k * d + i];
          }
      linear_bwd(dep.data(), e.data(), mp.e_proj.v, nm, d, d, de.data(), mp.e_proj.g);
      linear_bwd(dhp.data(), hx.data(), mp.h_proj.v, nm * hc, d, d, dhx.data(), mp.h_proj.g);
      for (int64_t q = 0; q < b; ++q)
        for (int64_t i = 0; i < sm; ++i) {
          const int64_t t = q * sm + i;
          for (int64_t k = 0; k < hc; ++k)
            rmsnorm_bwd(&xf_[(q * s + i) * len + k * d], mp.hnorm.v, h_r[t * hc + k], &dhx[t * len + k * d], d,
                        &dxf[(q * s + i) * len + k * d], mp.hnorm.g);
          std::vector<T> de_raw(d, T(0));
          rmsnorm_bwd(&e_raw[t * d], mp.enorm.v, e_r[t], &de[t * d], d, de_raw.data(), mp.enorm.g);
          for (int64_t j = 0; j < d; ++j) dembed[static_cast<int64_t>(next_ids[t]) * d + j] += de_raw[j];
        }
    }
  }
  if (!backward) return loss;

  std::vector<T> dx(n * len);
  for (int l = c.num_hidden_layers - 1; l >= 0; --l) {
    block_bwd(c, blocks_[l], rope_for(blocks_[l].spec, s + 1), b, s, 0, caches_[l], dxf.data(), dx.data(),
              static_cast<T>(w_.indexer));
    std::swap(dx, dxf);
  }
  for (int64_t t = 0; t < n; ++t)
    for (int64_t k = 0; k < hc; ++k)
      for (int64_t j = 0; j < d; ++j) dembed[static_cast<int64_t>(in_[t]) * d + j] += dxf[t * len + k * d + j];

  T kl = 0;
  int n_csa = 0;
  loads_.assign(blocks_.size(), {});
  for (size_t l = 0; l < blocks_.size(); ++l) {
    if (blocks_[l].has_indexer) {
      kl += caches_[l].attn.kl;
      ++n_csa;
    }
    if (blocks_[l].gate_bias && (l < static_cast<size_t>(c.num_hidden_layers) || mtp)) loads_[l] = caches_[l].moe.load;
  }
  loss.indexer_kl = n_csa ? kl / T(n_csa) : T(0);
  return loss;
}

template class TrainModel<float>;
template class TrainModel<double>;

}  // namespace dsv4::train

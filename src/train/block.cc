#include "train/block.h"

#include <algorithm>

#include "train/ops.h"

namespace dsv4::train {

template <typename T>
void block_fwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* x, const int32_t* tokens,
               int64_t b, int64_t s, int64_t pos0, T* x_out, BlockCache<T>& cache) {
  const int64_t n = b * s, d = c.hidden_size, len = c.hc_dim();
  const T eps = static_cast<T>(c.rms_norm_eps);
  cache.x.assign(x, x + n * len);
  cache.a_raw.assign(n * d, T(0));
  cache.a.assign(n * d, T(0));
  cache.a_r.assign(n, T(0));
  cache.o.assign(n * d, T(0));
  hc_pre_fwd(c, p.hc_attn, x, n, cache.a_raw.data(), cache.hc_a);
  for (int64_t t = 0; t < n; ++t) cache.a_r[t] = rmsnorm_fwd(&cache.a_raw[t * d], p.attn_norm.v, d, eps, &cache.a[t * d]);
  attention_fwd(c, p, rope, cache.a.data(), b, s, pos0, cache.o.data(), cache.attn);
  cache.x1.assign(n * len, T(0));
  hc_post_fwd(c, cache.o.data(), x, cache.hc_a.post.data(), cache.hc_a.comb.data(), n, cache.x1.data());
  cache.f_raw.assign(n * d, T(0));
  cache.f.assign(n * d, T(0));
  cache.f_r.assign(n, T(0));
  cache.y.assign(n * d, T(0));
  hc_pre_fwd(c, p.hc_ffn, cache.x1.data(), n, cache.f_raw.data(), cache.hc_f);
  for (int64_t t = 0; t < n; ++t) cache.f_r[t] = rmsnorm_fwd(&cache.f_raw[t * d], p.ffn_norm.v, d, eps, &cache.f[t * d]);
  moe_fwd(c, p, cache.f.data(), tokens, n, cache.y.data(), cache.moe);
  hc_post_fwd(c, cache.y.data(), cache.x1.data(), cache.hc_f.post.data(), cache.hc_f.comb.data(), n, x_out);
}

template <typename T>
void block_bwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, int64_t b, int64_t s, int64_t pos0,
               BlockCache<T>& cache, const T* dx_out, T* dx, T idx_weight) {
  const int64_t n = b * s, d = c.hidden_size, len = c.hc_dim(), hc = c.hc_mult;
  std::vector<T> dy(n * d, T(0)), dx1(n * len, T(0)), dpost(n * hc, T(0)), dcomb(n * hc * hc, T(0));
  hc_post_bwd(c, cache.y.data(), cache.x1.data(), cache.hc_f.post.data(), cache.hc_f.comb.data(), dx_out, n, dy.data(),
              dx1.data(), dpost.data(), dcomb.data());
  std::vector<T> df(n * d, T(0)), df_raw(n * d, T(0));
  moe_bwd(c, p, cache.f.data(), n, cache.moe, dy.data(), df.data());
  for (int64_t t = 0; t < n; ++t)
    rmsnorm_bwd(&cache.f_raw[t * d], p.ffn_norm.v, cache.f_r[t], &df[t * d], d, &df_raw[t * d], p.ffn_norm.g);
  hc_pre_bwd(c, p.hc_ffn, cache.x1.data(), n, cache.hc_f, df_raw.data(), dpost.data(), dcomb.data(), dx1.data());

  std::fill(dx, dx + n * len, T(0));
  std::vector<T> d_o(n * d, T(0));
  std::fill(dpost.begin(), dpost.end(), T(0));
  std::fill(dcomb.begin(), dcomb.end(), T(0));
  hc_post_bwd(c, cache.o.data(), cache.x.data(), cache.hc_a.post.data(), cache.hc_a.comb.data(), dx1.data(), n,
              d_o.data(), dx, dpost.data(), dcomb.data());
  std::vector<T> da(n * d, T(0)), da_raw(n * d, T(0));
  attention_bwd(c, p, rope, cache.a.data(), b, s, pos0, cache.attn, d_o.data(), da.data(), idx_weight);
  for (int64_t t = 0; t < n; ++t)
    rmsnorm_bwd(&cache.a_raw[t * d], p.attn_norm.v, cache.a_r[t], &da[t * d], d, &da_raw[t * d], p.attn_norm.g);
  hc_pre_bwd(c, p.hc_attn, cache.x.data(), n, cache.hc_a, da_raw.data(), dpost.data(), dcomb.data(), dx);
}

#define DSV4_BLOCK_INSTANTIATE(T)                                                                                  \
  template void block_fwd<T>(const ModelConfig&, const BlockParams<T>&, const RopeRows&, const T*, const int32_t*, \
                             int64_t, int64_t, int64_t, T*, BlockCache<T>&);                                       \
  template void block_bwd<T>(const ModelConfig&, const BlockParams<T>&, const RopeRows&, int64_t, int64_t, int64_t, \
                             BlockCache<T>&, const T*, T*, T);
DSV4_BLOCK_INSTANTIATE(float)
DSV4_BLOCK_INSTANTIATE(double)

}  // namespace dsv4::train

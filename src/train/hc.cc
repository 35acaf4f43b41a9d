#include "train/hc.h"

#include <algorithm>
#include <cmath>

#include "train/gemm.h"
#include "train/ops.h"

namespace dsv4::train {
namespace {

// mix[n, m] = (fn x) * rho, rho = 1/sqrt(mean(x^2) + eps) over the n_hc*d values of a token.
template <typename T>
void mixer_fwd(const T* fn, const T* x, int64_t n, int64_t len, int m, T eps, std::vector<T>& rho,
               std::vector<T>& mix) {
  rho.assign(n, T(0));
  mix.assign(n * m, T(0));
  linear_fwd(x, fn, n, len, m, mix.data());
  for (int64_t t = 0; t < n; ++t) {
    T ss = 0;
    for (int64_t i = 0; i < len; ++i) ss += x[t * len + i] * x[t * len + i];
    rho[t] = T(1) / std::sqrt(ss / T(len) + eps);
    for (int j = 0; j < m; ++j) mix[t * m + j] *= rho[t];
  }
}

// dmix [n, m] -> dx +=, dfn +=.
template <typename T>
void mixer_bwd(const T* fn, T* dfn, const T* x, int64_t n, int64_t len, int m, const std::vector<T>& rho,
               const std::vector<T>& mix, const std::vector<T>& dmix, T* dx) {
  std::vector<T> draw(n * m);
  for (int64_t t = 0; t < n; ++t) {
    T drho = 0;
    for (int j = 0; j < m; ++j) {
      draw[t * m + j] = dmix[t * m + j] * rho[t];
      drho += dmix[t * m + j] * mix[t * m + j] / rho[t];
    }
    const T c = -drho * rho[t] * rho[t] * rho[t] / T(len);
    for (int64_t i = 0; i < len; ++i) dx[t * len + i] += c * x[t * len + i];
  }
  linear_bwd(draw.data(), x, fn, n, len, m, dx, dfn);
}

template <typename T>
void normalize(T* m, int hc, bool rows, T eps) {
  for (int a = 0; a < hc; ++a) {
    T s = 0;
    for (int b = 0; b < hc; ++b) s += rows ? m[a * hc + b] : m[b * hc + a];
    const T inv = T(1) / (s + eps);
    for (int b = 0; b < hc; ++b) (rows ? m[a * hc + b] : m[b * hc + a]) *= inv;
  }
}

template <typename T>
void normalize_bwd(const T* x, T* d, int hc, bool rows, T eps) {  // d: dy in, dx out
  for (int a = 0; a < hc; ++a) {
    T s = 0, dot = 0;
    for (int b = 0; b < hc; ++b) {
      const int i = rows ? a * hc + b : b * hc + a;
      s += x[i];
    }
    const T den = s + eps;
    for (int b = 0; b < hc; ++b) {
      const int i = rows ? a * hc + b : b * hc + a;
      dot += d[i] * x[i];
    }
    for (int b = 0; b < hc; ++b) {
      const int i = rows ? a * hc + b : b * hc + a;
      d[i] = d[i] / den - dot / (den * den);
    }
  }
}

}  // namespace

template <typename T>
void sinkhorn_fwd(const T* logits, int hc, int iters, T eps, T* out) {
  for (int j = 0; j < hc; ++j) {
    T mx = logits[j * hc];
    for (int k = 1; k < hc; ++k) mx = std::max(mx, logits[j * hc + k]);
    T s = 0;
    for (int k = 0; k < hc; ++k) s += out[j * hc + k] = std::exp(logits[j * hc + k] - mx);
    for (int k = 0; k < hc; ++k) out[j * hc + k] = out[j * hc + k] / s + eps;
  }
  normalize(out, hc, false, eps);
  for (int it = 1; it < iters; ++it) {
    normalize(out, hc, true, eps);
    normalize(out, hc, false, eps);
  }
}

template <typename T>
void sinkhorn_bwd(const T* logits, int hc, int iters, T eps, const T* dout, T* dlogits) {
  const int hh = hc * hc, steps = 2 * iters;  // softmax, col, then (row, col) x (iters - 1)
  std::vector<T> states(static_cast<size_t>(steps * hh));  // states[s] = output of step s (0: softmax)
  T* m = states.data();
  for (int j = 0; j < hc; ++j) {
    T mx = logits[j * hc];
    for (int k = 1; k < hc; ++k) mx = std::max(mx, logits[j * hc + k]);
    T s = 0;
    for (int k = 0; k < hc; ++k) s += m[j * hc + k] = std::exp(logits[j * hc + k] - mx);
    for (int k = 0; k < hc; ++k) m[j * hc + k] = m[j * hc + k] / s + eps;
  }
  for (int s = 1; s < steps; ++s) {  // step s normalizes states[s - 1]: columns when s is odd
    std::copy(states.begin() + (s - 1) * hh, states.begin() + s * hh, states.begin() + s * hh);
    normalize(states.data() + s * hh, hc, s % 2 == 0, eps);
  }
  std::vector<T> d(dout, dout + hh);
  for (int s = steps - 1; s >= 1; --s) normalize_bwd(states.data() + (s - 1) * hh, d.data(), hc, s % 2 == 0, eps);
  // Softmax (the + eps is a constant): y = states[0] - eps.
  for (int j = 0; j < hc; ++j) {
    T dot = 0;
    for (int k = 0; k < hc; ++k) dot += d[j * hc + k] * (m[j * hc + k] - eps);
    for (int k = 0; k < hc; ++k) dlogits[j * hc + k] = (m[j * hc + k] - eps) * (d[j * hc + k] - dot);
  }
}

template <typename T>
void hc_pre_fwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, T* a, HcPreCache<T>& cache) {
  const int hc = c.hc_mult, mixn = c.hc_mix();
  const int64_t d = c.hidden_size, len = hc * d;
  const T eps = static_cast<T>(c.hc_eps);
  mixer_fwd(p.fn.v, x, n, len, mixn, static_cast<T>(c.rms_norm_eps), cache.rho, cache.mix);
  cache.pre.assign(n * hc, T(0));
  cache.post.assign(n * hc, T(0));
  cache.comb.assign(n * hc * hc, T(0));
  const T* s = p.scale.v;
  const T* base = p.base.v;
  std::vector<T> logits(hc * hc);
  for (int64_t t = 0; t < n; ++t) {
    const T* mix = &cache.mix[t * mixn];
    for (int k = 0; k < hc; ++k) {
      cache.pre[t * hc + k] = sigmoid(mix[k] * s[0] + base[k]) + eps;
      cache.post[t * hc + k] = T(2) * sigmoid(mix[hc + k] * s[1] + base[hc + k]);
    }
    for (int i = 0; i < hc * hc; ++i) logits[i] = mix[2 * hc + i] * s[2] + base[2 * hc + i];
    sinkhorn_fwd(logits.data(), hc, c.hc_sinkhorn_iters, eps, &cache.comb[t * hc * hc]);
    for (int64_t i = 0; i < d; ++i) {
      T v = 0;
      for (int k = 0; k < hc; ++k) v += cache.pre[t * hc + k] * x[t * len + k * d + i];
      a[t * d + i] = v;
    }
  }
}

template <typename T>
void hc_pre_bwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, const HcPreCache<T>& cache,
                const T* da, const T* dpost, const T* dcomb, T* dx) {
  const int hc = c.hc_mult, mixn = c.hc_mix();
  const int64_t d = c.hidden_size, len = hc * d;
  const T eps = static_cast<T>(c.hc_eps);
  const T* s = p.scale.v;
  const T* base = p.base.v;
  std::vector<T> dmix(n * mixn), logits(hc * hc), dlogits(hc * hc);
  for (int64_t t = 0; t < n; ++t) {
    const T* mix = &cache.mix[t * mixn];
    for (int k = 0; k < hc; ++k) {
      T dpre = 0;
      const T pk = cache.pre[t * hc + k];
      for (int64_t i = 0; i < d; ++i) {
        dpre += x[t * len + k * d + i] * da[t * d + i];
        dx[t * len + k * d + i] += pk * da[t * d + i];
      }
      const T sg = pk - eps;
      const T du = dpre * sg * (T(1) - sg);
      p.base.g[k] += du;
      p.scale.g[0] += du * mix[k];
      dmix[t * mixn + k] = du * s[0];
      const T sq = cache.post[t * hc + k] / T(2);
      const T dv = dpost[t * hc + k] * T(2) * sq * (T(1) - sq);
      p.base.g[hc + k] += dv;
      p.scale.g[1] += dv * mix[hc + k];
      dmix[t * mixn + hc + k] = dv * s[1];
    }
    for (int i = 0; i < hc * hc; ++i) logits[i] = mix[2 * hc + i] * s[2] + base[2 * hc + i];
    sinkhorn_bwd(logits.data(), hc, c.hc_sinkhorn_iters, eps, &dcomb[t * hc * hc], dlogits.data());
    for (int i = 0; i < hc * hc; ++i) {
      p.base.g[2 * hc + i] += dlogits[i];
      p.scale.g[2] += dlogits[i] * mix[2 * hc + i];
      dmix[t * mixn + 2 * hc + i] = dlogits[i] * s[2];
    }
  }
  mixer_bwd(p.fn.v, p.fn.g, x, n, len, mixn, cache.rho, cache.mix, dmix, dx);
}

template <typename T>
void hc_post_fwd(const ModelConfig& c, const T* o, const T* x, const T* post, const T* comb, int64_t n, T* x_new) {
  const int hc = c.hc_mult;
  const int64_t d = c.hidden_size, len = hc * d;
  for (int64_t t = 0; t < n; ++t)
    for (int k = 0; k < hc; ++k) {
      T* y = x_new + t * len + k * d;
      const T pk = post[t * hc + k];
      for (int64_t i = 0; i < d; ++i) y[i] = pk * o[t * d + i];
      for (int j = 0; j < hc; ++j) {
        const T w = comb[t * hc * hc + j * hc + k];
        const T* xj = x + t * len + j * d;
        for (int64_t i = 0; i < d; ++i) y[i] += w * xj[i];
      }
    }
}

template <typename T>
void hc_post_bwd(const ModelConfig& c, const T* o, const T* x, const T* post, const T* comb, const T* dx_new,
                 int64_t n, T* d_o, T* dx, T* dpost, T* dcomb) {
  const int hc = c.hc_mult;
  const int64_t d = c.hidden_size, len = hc * d;
  for (int64_t t = 0; t < n; ++t)
    for (int k = 0; k < hc; ++k) {
      const T* dy = dx_new + t * len + k * d;
      const T pk = post[t * hc + k];
      T dp = 0;
      for (int64_t i = 0; i < d; ++i) {
        d_o[t * d + i] += pk * dy[i];
        dp += dy[i] * o[t * d + i];
      }
      dpost[t * hc + k] += dp;
      for (int j = 0; j < hc; ++j) {
        const T w = comb[t * hc * hc + j * hc + k];
        const T* xj = x + t * len + j * d;
        T* dxj = dx + t * len + j * d;
        T dc = 0;
        for (int64_t i = 0; i < d; ++i) {
          dc += dy[i] * xj[i];
          dxj[i] += w * dy[i];
        }
        dcomb[t * hc * hc + j * hc + k] += dc;
      }
    }
}

template <typename T>
void hc_head_fwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, T* h, HcHeadCache<T>& cache) {
  const int hc = c.hc_mult;
  const int64_t d = c.hidden_size, len = hc * d;
  const T eps = static_cast<T>(c.hc_eps);
  mixer_fwd(p.fn.v, x, n, len, hc, static_cast<T>(c.rms_norm_eps), cache.rho, cache.mix);
  cache.w.assign(n * hc, T(0));
  for (int64_t t = 0; t < n; ++t) {
    for (int k = 0; k < hc; ++k)
      cache.w[t * hc + k] = sigmoid(cache.mix[t * hc + k] * p.scale.v[0] + p.base.v[k]) + eps;
    for (int64_t i = 0; i < d; ++i) {
      T v = 0;
      for (int k = 0; k < hc; ++k) v += cache.w[t * hc + k] * x[t * len + k * d + i];
      h[t * d + i] = v;
    }
  }
}

template <typename T>
void hc_head_bwd(const ModelConfig& c, const HcParams<T>& p, const T* x, int64_t n, const HcHeadCache<T>& cache,
                 const T* dh, T* dx) {
  const int hc = c.hc_mult;
  const int64_t d = c.hidden_size, len = hc * d;
  const T eps = static_cast<T>(c.hc_eps);
  std::vector<T> dmix(n * hc);
  for (int64_t t = 0; t < n; ++t)
    for (int k = 0; k < hc; ++k) {
      const T wk = cache.w[t * hc + k];
      T dw = 0;
      for (int64_t i = 0; i < d; ++i) {
        dw += x[t * len + k * d + i] * dh[t * d + i];
        dx[t * len + k * d + i] += wk * dh[t * d + i];
      }
      const T sg = wk - eps;
      const T du = dw * sg * (T(1) - sg);
      p.base.g[k] += du;
      p.scale.g[0] += du * cache.mix[t * hc + k];
      dmix[t * hc + k] = du * p.scale.v[0];
    }
  mixer_bwd(p.fn.v, p.fn.g, x, n, len, hc, cache.rho, cache.mix, dmix, dx);
}

#define DSV4_HC_INSTANTIATE(T)                                                                                     \
  template void sinkhorn_fwd<T>(const T*, int, int, T, T*);                                                        \
  template void sinkhorn_bwd<T>(const T*, int, int, T, const T*, T*);                                              \
  template void hc_pre_fwd<T>(const ModelConfig&, const HcParams<T>&, const T*, int64_t, T*, HcPreCache<T>&);      \
  template void hc_pre_bwd<T>(const ModelConfig&, const HcParams<T>&, const T*, int64_t, const HcPreCache<T>&,     \
                              const T*, const T*, const T*, T*);                                                   \
  template void hc_post_fwd<T>(const ModelConfig&, const T*, const T*, const T*, const T*, int64_t, T*);          \
  template void hc_post_bwd<T>(const ModelConfig&, const T*, const T*, const T*, const T*, const T*, int64_t, T*, \
                               T*, T*, T*);                                                                        \
  template void hc_head_fwd<T>(const ModelConfig&, const HcParams<T>&, const T*, int64_t, T*, HcHeadCache<T>&);   \
  template void hc_head_bwd<T>(const ModelConfig&, const HcParams<T>&, const T*, int64_t, const HcHeadCache<T>&,  \
                               const T*, T*);
DSV4_HC_INSTANTIATE(float)
DSV4_HC_INSTANTIATE(double)

}  // namespace dsv4::train

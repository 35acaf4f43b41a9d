#include "train/attention.h"

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"
#include "train/gemm.h"
#include "train/ops.h"

namespace dsv4::train {
namespace {

struct Dims {
  int64_t n, d, ql, h, dh, rd, og, ol, gd, ne, tab;
  Dims(const ModelConfig& c, int m, int64_t b, int64_t s) { set(c, m, b, s); }
  void set(const ModelConfig& c, int m, int64_t b, int64_t s) {
    n = b * s;
    d = c.hidden_size;
    ql = c.q_lora_rank;
    h = c.num_attention_heads;
    dh = c.head_dim;
    rd = c.qk_rope_head_dim;
    og = c.o_groups;
    ol = c.o_lora_rank;
    gd = h * dh / og;
    ne = m > 0 ? s / m : 0;
    tab = n + b * ne;
  }
};

}  // namespace

template <typename T>
void attention_fwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* a, int64_t b,
                   int64_t s, int64_t pos0, T* out, AttnCache<T>& cache) {
  const int m = p.spec.compress_ratio;
  const Dims z(c, m, b, s);
  const T eps = static_cast<T>(c.rms_norm_eps);
  cache.qa.assign(z.n * z.ql, T(0));
  cache.qr.assign(z.n * z.ql, T(0));
  cache.qa_r.assign(z.n, T(0));
  linear_fwd(a, p.wq_a.v, z.n, z.d, z.ql, cache.qa.data());
  for (int64_t t = 0; t < z.n; ++t)
    cache.qa_r[t] = rmsnorm_fwd(&cache.qa[t * z.ql], p.q_norm.v, z.ql, eps, &cache.qr[t * z.ql]);
  cache.qb.assign(z.n * z.h * z.dh, T(0));
  cache.q.assign(z.n * z.h * z.dh, T(0));
  cache.q_r.assign(z.n * z.h, T(0));
  linear_fwd(cache.qr.data(), p.wq_b.v, z.n, z.ql, z.h * z.dh, cache.qb.data());
  for (int64_t t = 0; t < z.n; ++t)
    for (int64_t hh = 0; hh < z.h; ++hh) {
      const int64_t o = (t * z.h + hh) * z.dh;
      cache.q_r[t * z.h + hh] = rmsnorm_fwd<T>(&cache.qb[o], nullptr, z.dh, eps, &cache.q[o]);
      rope_rotate(&cache.q[o + z.dh - z.rd], rope.c(pos0 + t % s), rope.s(pos0 + t % s), z.rd / 2, +1);
    }
  cache.kva.assign(z.n * z.dh, T(0));
  cache.kv_r.assign(z.n, T(0));
  cache.table.assign(z.tab * z.dh, T(0));
  linear_fwd(a, p.wkv.v, z.n, z.d, z.dh, cache.kva.data());
  for (int64_t t = 0; t < z.n; ++t) {
    T* row = &cache.table[t * z.dh];
    cache.kv_r[t] = rmsnorm_fwd(&cache.kva[t * z.dh], p.kv_norm.v, z.dh, eps, row);
    rope_rotate(row + z.dh - z.rd, rope.c(pos0 + t % s), rope.s(pos0 + t % s), z.rd / 2, +1);
  }
  if (m > 0) compressor_fwd(c, p.comp, rope, false, a, b, s, &cache.table[z.n * z.dh], cache.comp);
  if (p.has_indexer) indexer_fwd(c, p, rope, cache.qr.data(), a, b, s, cache.idx);

  // Candidates: the window (oldest first), then the compressed entries.
  cache.cand_off.assign(z.n + 1, 0);
  cache.cand.clear();
  for (int64_t t = 0; t < z.n; ++t) {
    const int64_t q = t / s, i = t % s;
    for (int64_t u = std::max<int64_t>(0, i - c.sliding_window + 1); u <= i; ++u) cache.cand.push_back(q * s + u);
    if (p.spec.attn == AttnKind::kCsa)
      for (int32_t e : cache.idx.selected[t]) cache.cand.push_back(z.n + q * z.ne + e);
    else if (m > 0)
      for (int64_t e = 0; e < visible_entries(i, m); ++e) cache.cand.push_back(z.n + q * z.ne + e);
    cache.cand_off[t + 1] = static_cast<int64_t>(cache.cand.size());
  }
  cache.prob.assign(cache.cand.size() * z.h, T(0));
  cache.psink.assign(z.n * z.h, T(0));
  cache.o.assign(z.n * z.h * z.dh, T(0));
  const T scale = T(1) / std::sqrt(T(z.dh));
  parallel_for(z.n, [&](int64_t t0, int64_t t1) {
    std::vector<T> sc;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t c0 = cache.cand_off[t], nc = cache.cand_off[t + 1] - c0;
      sc.resize(nc);
      for (int64_t hh = 0; hh < z.h; ++hh) {
        const T* qv = &cache.q[(t * z.h + hh) * z.dh];
        T mx = -INFINITY;
        for (int64_t j = 0; j < nc; ++j) {
          const T* row = &cache.table[cache.cand[c0 + j] * z.dh];
          T dot = 0;
          for (int64_t i = 0; i < z.dh; ++i) dot += qv[i] * row[i];
          sc[j] = dot * scale;
          mx = std::max(mx, sc[j]);
        }
        const T sink = p.attn_sink.v[hh];
        const T m2 = std::max(mx, sink);  // the max only stabilizes; the result is the same
        T den = std::exp(sink - m2);
        for (int64_t j = 0; j < nc; ++j) den += sc[j] = std::exp(sc[j] - m2);
        T* ov = &cache.o[(t * z.h + hh) * z.dh];
        for (int64_t j = 0; j < nc; ++j) {
          const T pj = sc[j] / den;
          cache.prob[(c0 + j) * z.h + hh] = pj;
          const T* row = &cache.table[cache.cand[c0 + j] * z.dh];
          for (int64_t i = 0; i < z.dh; ++i) ov[i] += pj * row[i];
        }
        cache.psink[t * z.h + hh] = std::exp(sink - m2) / den;
        rope_rotate(ov + z.dh - z.rd, rope.c(pos0 + t % s), rope.s(pos0 + t % s), z.rd / 2, -1);
      }
    }
  });
  // Grouped low-rank output: low_g = wo_a_g o_g, then wo_b.
  cache.low.assign(z.n * z.og * z.ol, T(0));
  std::vector<T> og(z.n * z.gd), lg(z.n * z.ol);
  for (int64_t g = 0; g < z.og; ++g) {
    for (int64_t t = 0; t < z.n; ++t)
      std::copy_n(&cache.o[t * z.h * z.dh + g * z.gd], z.gd, &og[t * z.gd]);
    linear_fwd(og.data(), p.wo_a.v + g * z.ol * z.gd, z.n, z.gd, z.ol, lg.data());
    for (int64_t t = 0; t < z.n; ++t) std::copy_n(&lg[t * z.ol], z.ol, &cache.low[t * z.og * z.ol + g * z.ol]);
  }
  linear_fwd(cache.low.data(), p.wo_b.v, z.n, z.og * z.ol, z.d, out);
}

template <typename T>
void attention_bwd(const ModelConfig& c, const BlockParams<T>& p, const RopeRows& rope, const T* a, int64_t b,
                   int64_t s, int64_t pos0, AttnCache<T>& cache, const T* dout, T* da, T idx_weight) {
  const int m = p.spec.compress_ratio;
  const Dims z(c, m, b, s);
  const T scale = T(1) / std::sqrt(T(z.dh));
  std::vector<T> dlow(z.n * z.og * z.ol, T(0));
  linear_bwd(dout, cache.low.data(), p.wo_b.v, z.n, z.og * z.ol, z.d, dlow.data(), p.wo_b.g);
  std::vector<T> d_o(z.n * z.h * z.dh, T(0));
  {
    std::vector<T> og(z.n * z.gd), dog(z.n * z.gd), dl(z.n * z.ol);
    for (int64_t g = 0; g < z.og; ++g) {
      for (int64_t t = 0; t < z.n; ++t) {
        std::copy_n(&cache.o[t * z.h * z.dh + g * z.gd], z.gd, &og[t * z.gd]);
        std::copy_n(&dlow[t * z.og * z.ol + g * z.ol], z.ol, &dl[t * z.ol]);
      }
      std::fill(dog.begin(), dog.end(), T(0));
      linear_bwd(dl.data(), og.data(), p.wo_a.v + g * z.ol * z.gd, z.n, z.gd, z.ol, dog.data(),
                 p.wo_a.g + g * z.ol * z.gd);
      for (int64_t t = 0; t < z.n; ++t) std::copy_n(&dog[t * z.gd], z.gd, &d_o[t * z.h * z.dh + g * z.gd]);
    }
  }
  // Attention core, one sequence per part (its queries only touch its own table rows).
  std::vector<T> dq(z.n * z.h * z.dh, T(0)), dtable(z.tab * z.dh, T(0));
  std::vector<T> dsink_parts(b * z.h, T(0));
  parallel_for(b, [&](int64_t q0, int64_t q1) {
    std::vector<T> dp;
    for (int64_t q = q0; q < q1; ++q)
      for (int64_t t = q * s; t < (q + 1) * s; ++t) {
        const int64_t c0 = cache.cand_off[t], nc = cache.cand_off[t + 1] - c0;
        dp.resize(nc);
        for (int64_t hh = 0; hh < z.h; ++hh) {
          T* dov = &d_o[(t * z.h + hh) * z.dh];
          rope_rotate(dov + z.dh - z.rd, rope.c(pos0 + t % s), rope.s(pos0 + t % s), z.rd / 2, +1);
          const T* qv = &cache.q[(t * z.h + hh) * z.dh];
          T* dqv = &dq[(t * z.h + hh) * z.dh];
          T sum_pdp = 0;
          for (int64_t j = 0; j < nc; ++j) {
            const T* row = &cache.table[cache.cand[c0 + j] * z.dh];
            T v = 0;
            for (int64_t i = 0; i < z.dh; ++i) v += dov[i] * row[i];
            dp[j] = v;
            sum_pdp += cache.prob[(c0 + j) * z.h + hh] * v;
          }
          dsink_parts[q * z.h + hh] -= cache.psink[t * z.h + hh] * sum_pdp;
          for (int64_t j = 0; j < nc; ++j) {
            const T pj = cache.prob[(c0 + j) * z.h + hh];
            const T ds = pj * (dp[j] - sum_pdp) * scale;
            const T* row = &cache.table[cache.cand[c0 + j] * z.dh];
            T* drow = &dtable[cache.cand[c0 + j] * z.dh];
            for (int64_t i = 0; i < z.dh; ++i) {
              dqv[i] += ds * row[i];
              drow[i] += ds * qv[i] + pj * dov[i];
            }
          }
        }
      }
  });
  for (int64_t q = 0; q < b; ++q)
    for (int64_t hh = 0; hh < z.h; ++hh) p.attn_sink.g[hh] += dsink_parts[q * z.h + hh];

  // The indexer's KL loss towards the main attention over the visible compressed entries.
  if (p.has_indexer) {
    std::vector<std::vector<T>> target(z.n);
    std::vector<T> sc;
    for (int64_t t = 0; t < z.n; ++t) {
      const int64_t q = t / s, nv = visible_entries(t % s, m);
      if (nv == 0) continue;
      target[t].assign(nv, T(0));
      sc.resize(nv);
      for (int64_t hh = 0; hh < z.h; ++hh) {
        const T* qv = &cache.q[(t * z.h + hh) * z.dh];
        T mx = -INFINITY;
        for (int64_t e = 0; e < nv; ++e) {
          const T* row = &cache.table[(z.n + q * z.ne + e) * z.dh];
          T dot = 0;
          for (int64_t i = 0; i < z.dh; ++i) dot += qv[i] * row[i];
          sc[e] = dot * scale;
          mx = std::max(mx, sc[e]);
        }
        T den = 0;
        for (int64_t e = 0; e < nv; ++e) den += sc[e] = std::exp(sc[e] - mx);
        for (int64_t e = 0; e < nv; ++e) target[t][e] += sc[e] / den / T(z.h);
      }
    }
    cache.kl = indexer_kl_bwd(c, p, rope, cache.qr.data(), a, b, s, cache.idx, target, idx_weight);
  }

  if (m > 0) compressor_bwd(c, p.comp, rope, false, a, b, s, cache.comp, &dtable[z.n * z.dh], da);
  std::vector<T> dkva(z.n * z.dh, T(0));
  for (int64_t t = 0; t < z.n; ++t) {
    T* dr = &dtable[t * z.dh];
    rope_rotate(dr + z.dh - z.rd, rope.c(pos0 + t % s), rope.s(pos0 + t % s), z.rd / 2, -1);
    rmsnorm_bwd(&cache.kva[t * z.dh], p.kv_norm.v, cache.kv_r[t], dr, z.dh, &dkva[t * z.dh], p.kv_norm.g);
  }
  linear_bwd(dkva.data(), a, p.wkv.v, z.n, z.d, z.dh, da, p.wkv.g);
  std::vector<T> dqb(z.n * z.h * z.dh, T(0));
  for (int64_t t = 0; t < z.n; ++t)
    for (int64_t hh = 0; hh < z.h; ++hh) {
      const int64_t o = (t * z.h + hh) * z.dh;
      rope_rotate(&dq[o + z.dh - z.rd], rope.c(pos0 + t % s), rope.s(pos0 + t % s), z.rd / 2, -1);
      rmsnorm_bwd<T>(&cache.qb[o], nullptr, cache.q_r[t * z.h + hh], &dq[o], z.dh, &dqb[o], nullptr);
    }
  std::vector<T> dqr(z.n * z.ql, T(0)), dqa(z.n * z.ql, T(0));
  linear_bwd(dqb.data(), cache.qr.data(), p.wq_b.v, z.n, z.ql, z.h * z.dh, dqr.data(), p.wq_b.g);
  for (int64_t t = 0; t < z.n; ++t)
    rmsnorm_bwd(&cache.qa[t * z.ql], p.q_norm.v, cache.qa_r[t], &dqr[t * z.ql], z.ql, &dqa[t * z.ql], p.q_norm.g);
  linear_bwd(dqa.data(), a, p.wq_a.v, z.n, z.d, z.ql, da, p.wq_a.g);
}

#define DSV4_ATTN_INSTANTIATE(T)                                                                                 \
  template void attention_fwd<T>(const ModelConfig&, const BlockParams<T>&, const RopeRows&, const T*, int64_t, \
                                 int64_t, int64_t, T*, AttnCache<T>&);                                          \
  template void attention_bwd<T>(const ModelConfig&, const BlockParams<T>&, const RopeRows&, const T*, int64_t, \
                                 int64_t, int64_t, AttnCache<T>&, const T*, T*, T);
DSV4_ATTN_INSTANTIATE(float)
DSV4_ATTN_INSTANTIATE(double)

}  // namespace dsv4::train

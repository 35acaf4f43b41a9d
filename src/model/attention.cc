#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/profile.h"
#include "base/thread_pool.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "model/block.h"
#include "model/compressor.h"
#include "model/indexer.h"
#include "model/kv_pack.h"
#include "model/linear_dispatch.h"
#include "tensor/quant.h"

namespace dsv4::model {
namespace {

constexpr int kAttnBlock = 64;  // candidates per online-softmax block in the reference kernel
constexpr int64_t kKeyChunk = kIndexerKeyChunk;

int64_t compressor_width(const CompressorWeights& cw) { return (cw.overlap ? 2 : 1) * int64_t{cw.head_dim}; }

void store_row(const float* src, int64_t n, bf16* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

// acc[i] = acc[i] * rescale, then acc[i] += p[j] * v[j][i] for j = 0..nb-1 in order: per element
// exactly the reference's sequence of fp32 operations (a separate multiply and add; a zero p[j]
// adds +0, which leaves every value unchanged but -0). Vectorized across i four lanes at a time
// with the acc values kept in registers over the block, which reorders nothing within an element.
void pv_block(float* acc, float rescale, const float* p, const float* v, int64_t nb, int64_t D) {
  typedef float f4 __attribute__((vector_size(16)));
  int64_t i = 0;
  for (; i + 4 <= D; i += 4) {
    f4 a;
    std::memcpy(&a, acc + i, sizeof a);
    a *= rescale;
    for (int64_t j = 0; j < nb; ++j) {
      f4 x;
      std::memcpy(&x, v + j * D + i, sizeof x);
      a += p[j] * x;
    }
    std::memcpy(acc + i, &a, sizeof a);
  }
  for (; i < D; ++i) {
    float a = acc[i] * rescale;
    for (int64_t j = 0; j < nb; ++j) a += p[j] * v[j * D + i];
    acc[i] = a;
  }
}

}  // namespace

void init_layer_state(const ModelConfig& c, const LayerWeights& w, LayerState& st) {
  st.window = c.sliding_window;
  st.head_dim = c.head_dim;
  st.ring.assign(static_cast<size_t>(c.sliding_window) * c.head_dim, bf16{});
  st.compressed.reset(MainRowFormat::of(c).bytes);
  st.index_keys.reset(w.has_indexer ? IndexKeyFormat::of(w.indexer.compressor.head_dim).bytes : 0);
  if (w.has_compressor) st.compressor.init(w.compressor.ratio, w.compressor.head_dim, w.compressor.overlap);
  if (w.has_indexer)
    st.idx_compressor.init(w.indexer.compressor.ratio, w.indexer.compressor.head_dim, w.indexer.compressor.overlap);
}

void sparse_attention(const float* q, int n_heads, int head_dim, const std::vector<const bf16*>& rows,
                      const float* sink, float scale, float* o) {
  const int64_t n_cand = static_cast<int64_t>(rows.size()), D = head_dim;
  std::vector<float> kv(static_cast<size_t>(n_cand * D));
  std::vector<uint8_t> valid(static_cast<size_t>(n_cand));
  for (int64_t j = 0; j < n_cand; ++j) {
    valid[j] = rows[j] != nullptr;
    for (int64_t i = 0; i < D; ++i) kv[j * D + i] = rows[j] ? bf16_to_f32(rows[j][i]) : 0.0f;
  }
  sparse_attention_f32(q, n_heads, head_dim, kv.data(), valid.data(), n_cand, sink, scale, o);
}

void sparse_attention_f32(const float* q, int n_heads, int head_dim, const float* kv, const uint8_t* valid,
                          int64_t n_cand, const float* sink, float scale, float* o) {
  const int64_t D = head_dim;
  // Every head's q.k at once as one f32 GEMM over the candidate rows (bf16 / FP8 / FP4 values
  // are exact in f32; holes are zero and masked below): each score is the same fixed-order dot
  // as kernels::bf16_row_dots (the linears' canonical order, or sequential on the scalar tier),
  // so a score still never depends on the other rows, heads or the thread count.
  std::vector<float> dots(static_cast<size_t>(n_heads) * n_cand);
  if (n_cand > 0) kernels::linear_f32(q, n_heads, kv, n_cand, D, dots.data());

  // Heads are independent: each runs the reference's online softmax over blocks of kAttnBlock
  // candidates on its own (the same arithmetic in the same order on any thread).
  parallel_for(n_heads, [&](int64_t h0, int64_t h1) {
    std::vector<float> p(kAttnBlock), acc(D);
    for (int64_t h = h0; h < h1; ++h) {
      const float* dh = &dots[h * n_cand];
      float mx = -std::numeric_limits<float>::infinity();
      float sum = 0.0f;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t b0 = 0; b0 < n_cand; b0 += kAttnBlock) {
        const int64_t nb = std::min<int64_t>(kAttnBlock, n_cand - b0);
        float bmax = mx;
        for (int64_t j = 0; j < nb; ++j) {
          if (!valid[b0 + j]) {
            p[j] = -std::numeric_limits<float>::infinity();
            continue;
          }
          p[j] = dh[b0 + j] * scale;
          bmax = std::max(bmax, p[j]);
        }
        if (bmax == -std::numeric_limits<float>::infinity()) continue;  // nothing valid yet
        const float rescale = std::exp(mx - bmax);  // exp(-inf) = 0 on the first block
        mx = bmax;
        float bsum = 0.0f;
        for (int64_t j = 0; j < nb; ++j) {
          p[j] = valid[b0 + j] ? std::exp(p[j] - mx) : 0.0f;
          bsum += p[j];
        }
        sum = sum * rescale + bsum;
        for (int64_t j = 0; j < nb; ++j) p[j] = valid[b0 + j] ? round_bf16(p[j]) : 0.0f;  // P cast to bf16 for P.V
        pv_block(acc.data(), rescale, p.data(), &kv[b0 * D], nb, D);
      }
      sum += std::exp(sink[h] - mx);
      float* oh = o + h * D;
      for (int64_t i = 0; i < D; ++i) oh[i] = round_bf16(acc[i] / sum);
    }
  });
}

void attention_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope, LayerState& st,
                       const float* a, int64_t n, int64_t pos0, float* out, LayerTrace* trace) {
  const Segment seg{&st, 0, n, pos0};
  attention_forward(c, w, rope, std::span<const Segment>(&seg, 1), a, n, out, trace);
}

void attention_forward(const ModelConfig& c, const LayerWeights& w, const RopeTable& rope,
                       std::span<const Segment> segments, const float* a, int64_t n, float* out, LayerTrace* trace) {
  DSV4_PROFILE_SCOPE("attn");
  const int64_t d = c.hidden_size, H = c.num_attention_heads, D = c.head_dim;
  const int rd = c.qk_rope_head_dim, W = c.sliding_window;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t qr_dim = c.q_lora_rank;

  // Projections of the whole chunk (row-independent arithmetic).
  std::vector<float> qr(n * qr_dim), q(n * H * D), kv(n * D);
  linear_forward(w.wq_a, a, n, qr.data());
  for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&qr[t * qr_dim], w.q_norm, qr_dim, eps, &qr[t * qr_dim]);
  linear_forward(w.wq_b, qr.data(), n, q.data());
  linear_forward(w.wkv, a, n, kv.data());

  // Compressor / indexer projections (fp32 GEMMs with bf16 weights).
  std::vector<float> cu, cz, iu, iz, iq, iw;
  if (w.has_compressor) {
    DSV4_PROFILE_SCOPE("attn.compressor_proj");
    const int64_t wd = compressor_width(w.compressor);
    cu.resize(n * wd);
    cz.resize(n * wd);
    kernels::linear_bf16(a, n, w.compressor.wkv, wd, d, cu.data(), false);
    kernels::linear_bf16(a, n, w.compressor.wgate, wd, d, cz.data(), false);
  }
  const int64_t nih = c.index_n_heads, dih = c.index_head_dim;
  if (w.has_indexer) {
    DSV4_PROFILE_SCOPE("attn.indexer_proj");
    const int64_t wd = compressor_width(w.indexer.compressor);
    iu.resize(n * wd);
    iz.resize(n * wd);
    kernels::linear_bf16(a, n, w.indexer.compressor.wkv, wd, d, iu.data(), false);
    kernels::linear_bf16(a, n, w.indexer.compressor.wgate, wd, d, iz.data(), false);
    iq.resize(n * nih * dih);
    linear_forward(w.indexer.wq_b, qr.data(), n, iq.data());
    iw.resize(n * nih);
    kernels::linear_bf16(a, n, w.indexer.weights_proj, nih, d, iw.data(), true);
    const float wscale = static_cast<float>(std::pow(static_cast<double>(dih), -0.5) *
                                            std::pow(static_cast<double>(nih), -0.5));
    for (auto& v : iw) v = round_bf16(v * wscale);
  }

  const float scale = static_cast<float>(std::pow(static_cast<double>(D), -0.5));
  std::vector<float> cs(rd / 2), sn(rd / 2), entry(D), ientry(dih), o(n * H * D), scores;
  const MainRowFormat mf = MainRowFormat::of(c);
  const IndexKeyFormat kf = IndexKeyFormat::of(static_cast<int>(dih));
  std::vector<float> cand;      // the candidates as floats [n_cand, D]
  std::vector<uint8_t> valid;   // 0 for the window's empty slots
  for (const Segment& seg : segments)
  for (int64_t i = seg.row0; i < seg.row0 + seg.n; ++i) {
    LayerState& st = *seg.st;
    const int64_t t = seg.pos0 + (i - seg.row0);
    rope.at(t, cs.data(), sn.data());
    float* qt = &q[i * H * D];
    for (int64_t h = 0; h < H; ++h) {
      kernels::head_rms_norm_bf16(qt + h * D, D, eps);
      kernels::rope_rotate(qt + h * D + D - rd, cs.data(), sn.data(), rd / 2, false);
    }
    float* kvt = &kv[i * D];
    kernels::rms_norm(kvt, w.kv_norm, D, eps, kvt);
    kernels::rope_rotate(kvt + D - rd, cs.data(), sn.data(), rd / 2, false);
    fp8_roundtrip(kvt, D - rd, 64);
    store_row(kvt, D, &st.ring[(t % W) * D]);

    std::vector<int32_t> selected;
    if (w.has_indexer) {
      const int64_t wd = st.idx_compressor.width;
      if (compressor_step(w.indexer.compressor, st.idx_compressor, &iu[i * wd], &iz[i * wd], t, rope, rd, eps, true,
                          ientry.data())) {
        pack_index_key(kf, ientry.data(), st.index_keys.append());
      }
      float* qi = &iq[i * nih * dih];
      for (int64_t h = 0; h < nih; ++h) {
        float* qh = qi + h * dih;
        kernels::rope_rotate(qh + dih - rd, cs.data(), sn.data(), rd / 2, false);
        kernels::hadamard_bf16(qh, dih, static_cast<float>(std::pow(static_cast<double>(dih), -0.5)));
        fp4_roundtrip(qh, dih, 32);
      }
      const int64_t visible = (t + 1) / w.indexer.compressor.ratio;
      scores.resize(visible);
      {
        DSV4_PROFILE_SCOPE("attn.indexer_scores_topk");
        // The packed FP4 keys back to their (exact) values as floats a chunk at a time, chunks over
        // the thread pool; each key's score depends on that key alone, so neither the chunking
        // nor the thread count changes anything.
        const int64_t n_chunks = (visible + kKeyChunk - 1) / kKeyChunk;
        parallel_for(n_chunks, [&](int64_t c0, int64_t c1) {
          std::vector<float> keys(static_cast<size_t>(kKeyChunk * dih));
          for (int64_t ch = c0; ch < c1; ++ch) {
            const int64_t k0 = ch * kKeyChunk, nk = std::min(kKeyChunk, visible - k0);
            for (int64_t s = 0; s < nk; ++s) unpack_index_key(kf, st.index_keys.row(k0 + s), &keys[s * dih]);
            indexer_scores_f32(qi, &iw[i * nih], static_cast<int>(nih), static_cast<int>(dih), keys.data(), nk,
                               scores.data() + k0);
          }
        });
        selected = topk_indices(scores.data(), visible, c.index_topk);
      }
      if (trace) {
        std::vector<int32_t> row(c.index_topk, -1);
        std::copy(selected.begin(), selected.end(), row.begin());
        trace->indexer_topk.insert(trace->indexer_topk.end(), row.begin(), row.end());
      }
    }
    if (w.has_compressor) {
      const int64_t wd = st.compressor.width;
      if (compressor_step(w.compressor, st.compressor, &cu[i * wd], &cz[i * wd], t, rope, rd, eps, false,
                          entry.data())) {
        pack_main_row(mf, entry.data(), st.compressed.append());
      }
    }

    // Candidates in the reference's decode order: W window slots oldest to newest (padded with
    // "none" before the window fills), then the compressed entries, unpacked to floats.
    const int64_t first = std::max<int64_t>(0, t - W + 1);
    const int64_t n_comp = w.has_indexer ? static_cast<int64_t>(selected.size())
                           : w.has_compressor ? (t + 1) / w.compressor.ratio
                                              : 0;
    const int64_t n_cand = W + n_comp;
    cand.resize(static_cast<size_t>(n_cand * D));
    valid.assign(static_cast<size_t>(n_cand), 1);
    parallel_for(n_cand, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        float* dst = &cand[j * D];
        if (j < W) {
          const int64_t p = first + j;
          if (p > t) {
            valid[j] = 0;
            std::fill_n(dst, D, 0.0f);
          } else {
            const bf16* r = &st.ring[(p % W) * D];
            for (int64_t k = 0; k < D; ++k) dst[k] = bf16_to_f32(r[k]);
          }
        } else {
          const int64_t s = w.has_indexer ? selected[j - W] : j - W;
          unpack_main_row(mf, st.compressed.row(s), dst);
        }
      }
    });
    float* ot = &o[i * H * D];
    {
      DSV4_PROFILE_SCOPE("attn.core");
      sparse_attention_f32(qt, static_cast<int>(H), static_cast<int>(D), cand.data(), valid.data(), n_cand, w.attn_sink,
                           scale, ot);
    }
    for (int64_t h = 0; h < H; ++h) kernels::rope_rotate(ot + h * D + D - rd, cs.data(), sn.data(), rd / 2, true);
  }

  // Grouped low-rank output: low_g = wo_a_g @ o_g (bf16 x bf16, fp32 accumulate, bf16 out).
  DSV4_PROFILE_SCOPE("attn.out_proj");
  // One GEMM per group over all rows, so each group's weights are read once per call (rows are
  // independent: the same result as row by row).
  const int64_t og = c.o_groups, rank = c.o_lora_rank, gin = H * D / og;
  std::vector<float> low(n * og * rank), og_in(n * gin), og_out(n * rank);
  for (int64_t g = 0; g < og; ++g) {
    for (int64_t i = 0; i < n; ++i) std::copy_n(&o[i * H * D + g * gin], gin, &og_in[i * gin]);
    if (w.wo_a.kind == LinearWeight::Kind::kFp8) {
      kernels::linear_fp8_dequant(og_in.data(), n, w.wo_a.fp8, g * rank, rank, og_out.data(), true);
    } else if (w.wo_a.kind == LinearWeight::Kind::kGgml) {
      kernels::GgmlMatrix part = w.wo_a.ggml;  // the group's rows
      part.data += g * rank * part.row_bytes;
      part.rows = rank;
      kernels::linear_ggml(og_in.data(), n, part, og_out.data(), true);
    } else {
      kernels::linear_bf16(og_in.data(), n, w.wo_a.bf + g * rank * gin, rank, gin, og_out.data(), true);
    }
    for (int64_t i = 0; i < n; ++i) std::copy_n(&og_out[i * rank], rank, &low[(i * og + g) * rank]);
  }
  linear_forward(w.wo_b, low.data(), n, out);
}

}  // namespace dsv4::model

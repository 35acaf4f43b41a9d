#include "model/schema_summary.h"

#include "model/memory_plan.h"
#include "model/schema.h"

namespace dsv4 {

// Active parameters: what one token's forward touches. The embedding is a row lookup (excluded);
// the head, every norm, HC mixer, attention projection, compressor and indexer, the router
// (gate weight and bias) and the shared expert count fully; of the routed experts only
// num_experts_per_tok count (all experts of a layer have the same size, so counting experts with
// id < k is exact).
//
// V4-Flash arithmetic (d 4096, H 64, D 512, q_lora 1024, og 8, o_lora 1024, E 256, F 2048, k 6):
//   attention per layer  H + 1024*4096 + 1024 + 32768*1024 + 512*4096 + 512 + 8192*4096 + 4096*8192
//                        = 106,956,352;  HC 2*(24*16384 + 24 + 3) = 786,486;  norms 8,192;
//                        gate 256*4096 = 1,048,576;  one expert 3*2048*4096 = 25,165,824
//   -> per layer without compressors: 108,799,606 + 257 experts = 6,576,416,374 (active: + 7 = 284,960,374)
//   CSA extra: compressor 2*1024*4096 + 4*1024 + 512 = 8,393,216, indexer 8192*1024 + 64*4096 + 2*256*4096
//              + 4*256 + 128 = 10,749,056 (21 layers);  HCA extra: 2*512*4096 + 128*512 + 512 = 4,260,352 (20)
//   gate bias 256 on 40 non-hash layers;  top: embed + head 2*129280*4096, norm 4096, HC head 4*16384 + 5
//   total  = 43*6,576,416,374 + 10,240 + 21*19,142,272 + 20*4,260,352 + 1,059,131,397 = 284.33 B
//   active = 43*284,960,374 + 10,240 + 401,987,712 + 85,207,040 + 529,600,517 (head, norm, HC head) = 13.27 B
//   MTP    = window layer 6,576,416,374 + bias 256 + e/h_proj 2*4096^2 + 3 norms + HC head = 6.61 B
// The same code gives Pro 1573.0 B total / 48.85 B active / 25.84 B MTP (spec §1.4: 1573 / 48.9 / 25.8).
ParamCounts count_params(const ModelConfig& cfg) {
  ParamCounts p;
  for (const TensorSpec& s : expected_tensors(cfg)) {
    const int64_t n = s.params();
    const bool active = s.expert < 0 || s.expert < cfg.num_experts_per_tok;
    if (s.is_mtp) {
      p.mtp += n;
      if (active) p.mtp_active += n;
      continue;
    }
    p.total += n;
    if (s.name == "embed.weight") {
      p.embedding += n;
    } else if (active) {
      p.active += n;
    }
  }
  return p;
}

KvCacheSize kv_cache_size(const ModelConfig& cfg) {
  KvCacheSize k;
  const int64_t D = cfg.head_dim;
  const int64_t packed_main = packed_main_row_bytes(cfg), packed_index = packed_index_row_bytes(cfg);
  for (const LayerSpec& ls : cfg.layers()) {
    k.window_ring_bytes += int64_t{cfg.sliding_window} * D * 2;
    if (ls.is_mtp || ls.compress_ratio == 0) continue;  // MTP and window-only layers: ring only
    const double m = ls.compress_ratio;
    k.bf16_bytes_per_token += 2.0 * D / m;
    k.packed_bytes_per_token += packed_main / m;
    if (ls.attn == AttnKind::kCsa) {
      k.bf16_bytes_per_token += 2.0 * cfg.index_head_dim / m;
      k.packed_bytes_per_token += packed_index / m;
    }
  }
  return k;
}

}  // namespace dsv4

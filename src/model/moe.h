// Mixture of experts (spec §2.12): sqrt-softplus router with the correction bias used only for
// selection (or the frozen tid2eid table on hash layers), normalised weights times route scale,
// SwiGLU experts with the asymmetric clamp, shared expert, fp32 combination in expert-id order.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"
#include "model/weights.h"

namespace dsv4::model {

struct LayerTrace;

struct Routing {
  std::vector<int32_t> experts;  // [k] in selection order
  std::vector<float> weights;    // [k] normalised, times route scale
};

Routing route_token(const ModelConfig& c, const LayerWeights& w, const float* f, int64_t token_id);

// Routed expert e of this layer on m rows x [m, d] scaled by g [m]: out [m, d] (what an expert
// parallel member computes for the process that routed the rows).
void expert_rows_forward(const ModelConfig& c, const LayerWeights& w, int64_t e, const float* x, int64_t m,
                         const float* g, float* out);

// f: [n, d] ffn-normed inputs; tokens: [n] input ids (hash routing); y: [n, d].
void moe_forward(const ModelConfig& c, const LayerWeights& w, const float* f, const int32_t* tokens, int64_t n,
                 float* y, LayerTrace* trace);

}  // namespace dsv4::model

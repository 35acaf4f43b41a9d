// Benchmarks only: grows a sequence to `pos` tokens without running the model, with compressed
// rows, indexer keys and window rows of the right shape and number (valid packed FP8 / FP4 values
// drawn at random), so that decode cost can be measured at context lengths a real prefill would
// take hours to reach on a CPU. The state is not any real prompt's: logits after it mean nothing.
#pragma once
#include <cstdint>

#include "model/model.h"

namespace dsv4::model {

// seq.pos <= pos; afterwards seq.pos == pos (and mtp_pos), every layer holding the rows a real
// sequence of pos tokens holds (state_bytes(seq).growing == sequence_bytes(cfg, pos).kv).
void fill_synthetic_context(const ModelConfig& cfg, Sequence& seq, int64_t pos, uint64_t seed);

}  // namespace dsv4::model

// A 64-bit fingerprint of a loaded checkpoint, so that cached state is only ever reused by the
// model that made it: the config, every tensor's name, dtype, shape and byte range, and a sample
// of each tensor's bytes (its first, middle and last 256), so two checkpoints with the same shapes
// but different weights (another training run, another seed) differ. Reads a few KB per tensor,
// never the whole file. Also covers the snapshot format version.
#pragma once
#include <cstdint>

#include "model/model.h"

namespace dsv4::cache {

uint64_t model_fingerprint(const model::Model& m);

}  // namespace dsv4::cache

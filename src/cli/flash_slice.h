// The `flash-slice` preset of make-model: the real V4-Flash config (configs/v4-flash.json, compiled
// in) with every dimension kept but only L main layers, for measuring speed at real sizes on a
// machine that cannot hold the whole model.
#pragma once
#include <string>

#include "base/status.h"

namespace dsv4::cli {

// config.json text of the slice: a contiguous run of L real layers (with their compress ratios
// and routing) followed by the real MTP block(s). The run starts at the first real layer such that,
// for L >= 2, it holds a CSA (ratio 4) and an HCA (ratio > 4) layer; hash routing stays on the
// layers that have it in the real model (for L = 2: real layers 2 and 3, CSA + hash, HCA + top-k).
Result<std::string> flash_slice_config(int layers);

}  // namespace dsv4::cli

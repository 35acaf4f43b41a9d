// Rotary tables of one layer kind (spec §2.5): interleaved pairs over the last rope_dim channels,
// base rope_theta without YaRN for window-only layers (and MTP), compress_rope_theta with the YaRN
// frequency ramp (no magnitude scaling) for compressed layers. Frequencies are fp32 exactly as the
// reference computes them; angles are fp32(position) * fp32(freq); cos/sin of that fp32 angle.
#pragma once
#include <cstdint>
#include <vector>

#include "io/config.h"

namespace dsv4::model {

class RopeTable {
 public:
  RopeTable() = default;
  RopeTable(const ModelConfig& c, bool compressed_layer);
  int64_t n_pairs() const { return static_cast<int64_t>(freqs_.size()); }
  // Fills cos/sin[n_pairs] for an absolute position.
  void at(int64_t pos, float* cos, float* sin) const;
  const std::vector<float>& freqs() const { return freqs_; }

 private:
  std::vector<float> freqs_;
};

}  // namespace dsv4::model

#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace dsv4::model {

RopeTable::RopeTable(const ModelConfig& c, bool compressed_layer) {
  const int dim = c.qk_rope_head_dim;
  const double base = compressed_layer ? c.compress_rope_theta : c.rope_theta;
  const int64_t orig = compressed_layer ? c.original_max_position_embeddings : 0;
  freqs_.resize(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    // torch: 1.0 / (base ** (arange(0, dim, 2, fp32) / dim)), all fp32.
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    freqs_[i] = 1.0f / std::pow(static_cast<float>(base), e);
  }
  if (orig > 0) {
    auto corr_dim = [&](double rot) {
      return dim * std::log(static_cast<double>(orig) / (rot * 2 * M_PI)) / (2 * std::log(base));
    };
    const double low = std::max(std::floor(corr_dim(c.beta_fast)), 0.0);
    double high = std::min(std::ceil(corr_dim(c.beta_slow)), static_cast<double>(dim - 1));
    if (low == high) high += 0.001;
    const float factor = static_cast<float>(c.rope_factor);
    for (int i = 0; i < dim / 2; ++i) {
      // ramp in fp32: (arange(fp32) - low) / (high - low), clamped; smooth = 1 - ramp.
      float ramp = (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low);
      ramp = std::clamp(ramp, 0.0f, 1.0f);
      const float smooth = 1.0f - ramp;
      freqs_[i] = freqs_[i] / factor * (1.0f - smooth) + freqs_[i] * smooth;
    }
  }
}

void RopeTable::at(int64_t pos, float* cos, float* sin) const {
  const float t = static_cast<float>(pos);
  for (size_t i = 0; i < freqs_.size(); ++i) {
    const float a = t * freqs_[i];
    cos[i] = std::cos(a);
    sin[i] = std::sin(a);
  }
}

}  // namespace dsv4::model

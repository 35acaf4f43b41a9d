#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dsv4::kernels {

namespace {

template <typename Load>
float torch_sum_impl(int64_t n, int vw, Load load) {
  constexpr int kIlp = 4, kLevels = 4;
  const int64_t n_vec = n / vw;             // whole vectors
  const int64_t rows = n_vec / kIlp;        // multi_row_sum rows of 4 vectors
  int level_power = 4;
  {
    int64_t c = 0;
    while ((int64_t{1} << c) < rows) ++c;   // CeilLog2(rows)
    level_power = std::max<int>(4, static_cast<int>(c / kLevels));
  }
  const int64_t level_step = int64_t{1} << level_power, level_mask = level_step - 1;
  // acc[level][ilp][lane]
  std::vector<float> acc(static_cast<size_t>(kLevels) * kIlp * vw, 0.0f);
  auto A = [&](int lv, int k, int lane) -> float& { return acc[(static_cast<size_t>(lv) * kIlp + k) * vw + lane]; };
  auto add_row = [&](int64_t i) {
    for (int k = 0; k < kIlp; ++k)
      for (int l = 0; l < vw; ++l) A(0, k, l) += load((i * kIlp + k) * vw + l);
  };
  int64_t i = 0;
  while (i + level_step <= rows) {
    for (int64_t j = 0; j < level_step; ++j, ++i) add_row(i);
    for (int lv = 1; lv < kLevels; ++lv) {
      for (int k = 0; k < kIlp; ++k)
        for (int l = 0; l < vw; ++l) {
          A(lv, k, l) += A(lv - 1, k, l);
          A(lv - 1, k, l) = 0.0f;
        }
      if ((i & (level_mask << (lv * level_power))) != 0) break;
    }
  }
  for (; i < rows; ++i) add_row(i);
  for (int lv = 1; lv < kLevels; ++lv)
    for (int k = 0; k < kIlp; ++k)
      for (int l = 0; l < vw; ++l) A(0, k, l) += A(lv, k, l);
  // Leftover whole vectors go into accumulator 0, then the four accumulators are combined.
  for (int64_t v = rows * kIlp; v < n_vec; ++v)
    for (int l = 0; l < vw; ++l) A(0, 0, l) += load(v * vw + l);
  for (int k = 1; k < kIlp; ++k)
    for (int l = 0; l < vw; ++l) A(0, 0, l) += A(0, k, l);
  float total = 0.0f;
  for (int64_t t = n_vec * vw; t < n; ++t) total += load(t);
  for (int l = 0; l < vw; ++l) total += A(0, 0, l);
  return total;
}

}  // namespace

float torch_row_sum(const float* x, int64_t n, int vec_width) {
  return torch_sum_impl(n, vec_width, [x](int64_t i) { return x[i]; });
}

float torch_row_sum_squares(const float* x, int64_t n, int vec_width) {
  return torch_sum_impl(n, vec_width, [x](int64_t i) { return x[i] * x[i]; });
}

void rms_norm(const float* x, const bf16* w, int64_t n, float eps, float* y) {
  const float ss = torch_row_sum_squares(x, n, kTorchVecWidth);
  const float r = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = round_bf16(bf16_to_f32(w[i]) * (x[i] * r));
}

void head_rms_norm_bf16(float* x, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += round_bf16(x[i] * x[i]);
  const float mean = round_bf16(ss / static_cast<float>(n));
  const float r = round_bf16(1.0f / std::sqrt(round_bf16(mean + eps)));
  for (int64_t i = 0; i < n; ++i) x[i] = round_bf16(x[i] * r);
}

void rope_rotate(float* x, const float* cos, const float* sin, int64_t n_pairs, bool inverse) {
  for (int64_t i = 0; i < n_pairs; ++i) {
    const float re = x[2 * i], im = x[2 * i + 1];
    const float c = cos[i], s = inverse ? -sin[i] : sin[i];
    x[2 * i] = round_bf16(re * c - im * s);
    x[2 * i + 1] = round_bf16(re * s + im * c);
  }
}

void hadamard_bf16(float* x, int64_t n, float scale) {
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  for (int64_t i = 0; i < n; ++i) x[i] = round_bf16(x[i] * scale);
}

}  // namespace dsv4::kernels

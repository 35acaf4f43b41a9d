#include "dist/wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace dsv4::dist {
namespace {

float bf16_round(float v) {  // round-to-nearest-even to bf16, as the model's rounding points do
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000u;
  std::memcpy(&v, &u, 4);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

TEST(Wire, FieldsRoundTripInOrder) {
  Writer w;
  w.put<uint8_t>(7);
  w.put<int64_t>(-5);
  const int32_t arr[3] = {1, -2, 3};
  w.put_array(arr, 3);
  w.put<double>(0.25);
  Reader r(w.bytes());
  EXPECT_EQ(r.get<uint8_t>(), 7);
  EXPECT_EQ(r.get<int64_t>(), -5);
  int32_t back[3];
  r.get_array(back, 3);
  EXPECT_EQ(back[1], -2);
  EXPECT_FALSE(r.done());
  EXPECT_EQ(r.get<double>(), 0.25);
  EXPECT_TRUE(r.done());
}

TEST(Wire, Bf16RowsTravelAtHalfSizeAndExactly) {
  std::vector<float> x;
  for (int i = 0; i < 1000; ++i) x.push_back(bf16_round(std::sin(i * 0.37f) * std::pow(2.0f, (i % 40) - 20)));
  x.push_back(-0.0f);
  x.push_back(std::numeric_limits<float>::infinity());
  Writer w;
  put_floats(w, x.data(), x.size());
  EXPECT_LT(w.bytes().size(), x.size() * 2 + 16);
  Reader r(w.bytes());
  std::vector<float> y(x.size());
  get_floats(r, y.data(), y.size());
  EXPECT_TRUE(r.done());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_TRUE(same_bits(x[i], y[i])) << i;
}

TEST(Wire, AnyOtherValueTravelsAsF32Exactly) {
  std::vector<float> x(300);
  for (size_t i = 0; i < x.size(); ++i) x[i] = bf16_round(0.1f * i);
  x[123] = 0.1f;  // one value that is not bf16: the whole row goes as f32
  x[7] = std::numeric_limits<float>::quiet_NaN();
  Writer w;
  put_floats(w, x.data(), x.size());
  EXPECT_GE(w.bytes().size(), x.size() * 4);
  Reader r(w.bytes());
  std::vector<float> y(x.size());
  get_floats(r, y.data(), y.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_TRUE(same_bits(x[i], y[i])) << i;
}

}  // namespace
}  // namespace dsv4::dist

#include "dist/wire.h"

namespace dsv4::dist {

void put_floats(Writer& w, const float* x, size_t n) {
  bool bf16 = true;
  for (size_t i = 0; i < n && bf16; ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    bf16 = (u & 0xffffu) == 0;
  }
  w.put<uint8_t>(bf16 ? 1 : 0);
  if (!bf16) return w.put_array(x, n);
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], 4);
    h[i] = static_cast<uint16_t>(u >> 16);
  }
  w.put_array(h.data(), n);
}

void get_floats(Reader& r, float* x, size_t n) {
  if (r.get<uint8_t>() == 0) return r.get_array(x, n);
  std::vector<uint16_t> h(n);
  r.get_array(h.data(), n);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = static_cast<uint32_t>(h[i]) << 16;
    std::memcpy(&x[i], &u, 4);
  }
}

}  // namespace dsv4::dist

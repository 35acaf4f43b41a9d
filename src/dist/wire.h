// Byte buffers for the messages between ranks: fixed-width little-endian fields appended in order
// and read back in the same order. Reading past the end is a protocol bug between our own ranks
// (same binary, checked at launch), so it aborts rather than returning an error.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "base/check.h"

namespace dsv4::dist {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    const size_t o = buf_.size();
    buf_.resize(o + sizeof(T));
    std::memcpy(buf_.data() + o, &v, sizeof(T));
  }
  template <typename T>
  void put_array(const T* p, size_t n) {
    const size_t o = buf_.size();
    buf_.resize(o + n * sizeof(T));
    if (n) std::memcpy(buf_.data() + o, p, n * sizeof(T));
  }
  std::vector<uint8_t>& bytes() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  template <typename T>
  T get() {
    T v;
    DSV4_CHECK(o_ + sizeof(T) <= b_.size());
    std::memcpy(&v, b_.data() + o_, sizeof(T));
    o_ += sizeof(T);
    return v;
  }
  template <typename T>
  void get_array(T* p, size_t n) {
    DSV4_CHECK(n <= (b_.size() - o_) / sizeof(T));
    if (n) std::memcpy(p, b_.data() + o_, n * sizeof(T));
    o_ += n * sizeof(T);
  }
  bool done() const { return o_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  size_t o_ = 0;
};

// Rows of bf16 values (the HC state between layers is bf16 by construction: block.h) travel as
// their upper 16 bits; anything else travels as f32. The flag says which, so the wire is exact.
void put_floats(Writer& w, const float* x, size_t n);
void get_floats(Reader& r, float* x, size_t n);

}  // namespace dsv4::dist

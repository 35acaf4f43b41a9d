// Fuzz target for the GGUF header parser (io/gguf.h): the input is a whole GGUF file.
// Any input must yield a header or an error Status: no crash, hang, leak or UB; a header that
// parses must describe tensors that lie inside the input (touched below).
#include <cstddef>
#include <cstdint>
#include <span>

#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto h = dsv4::parse_gguf_header(in, in.size(), "fuzz.gguf");
  if (h.ok()) {
    volatile uint8_t sink = 0;
    for (const auto& t : h->tensors)
      if (t.nbytes) sink = sink ^ in[h->data_offset + t.offset] ^ in[h->data_offset + t.offset + t.nbytes - 1];
    (void)sink;
  }
  return 0;
}

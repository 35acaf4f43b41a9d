// Fuzz target for the untrusted-metadata parsers of the checkpoint loader.
// The first input byte picks the parser, the rest is its input:
//   even: a safetensors file prefix (8-byte length, JSON header, data) -> parse_safetensors_header,
//         with the file size taken as the input size;
//   odd:  the text of a model.safetensors.index.json -> parse_safetensors_index.
// Any input must yield a value or an error Status: no crash, hang, leak or UB.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "io/checkpoint.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::span<const uint8_t> rest(data + 1, size - 1);
  if (mode % 2 == 0) {
    auto h = dsv4::parse_safetensors_header(rest, rest.size(), "fuzz.safetensors");
    if (h.ok()) {
      // A valid header's tensors must lie inside the input: touch the first and last byte of each.
      volatile uint8_t sink = 0;
      for (const auto& t : h->tensors)
        if (t.end > t.begin) sink = sink ^ rest[h->data_offset + t.begin] ^ rest[h->data_offset + t.end - 1];
      (void)sink;
    }
  } else {
    auto idx = dsv4::parse_safetensors_index(
        std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()), "fuzz.index.json");
    (void)idx;
  }
  return 0;
}

// The engine's Snapshot as bytes: what the on-disk prefix cache stores. One self-describing
// record: a header (magic, format version, the model's fingerprint, the token count, the payload's
// size and xxHash64), the tokens, then the sequence state (every layer's window ring, compressed
// rows, indexer keys and partial compressor blocks, the MTP blocks' state) and the last position's
// logits and final HC state. Decoding checks everything against the loaded model's own fresh
// sequence (layer count, window, dims, compressor shapes), so a file from another checkpoint or a
// damaged one is an error, never wrong state.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/request.h"
#include "model/model.h"

namespace dsv4::cache {

inline constexpr uint32_t kSnapshotFormatVersion = 2;  // 2: packed FP8 / FP4 rows (model/kv_pack.h)

// What a directory scan needs without reading the state: the header and the tokens.
struct SnapshotHeader {
  uint64_t model_id = 0;
  std::vector<int32_t> tokens;
  uint64_t payload_bytes = 0;
  uint64_t payload_hash = 0;
  size_t header_bytes = 0;  // where the payload starts
};

std::string encode_snapshot(const engine::Snapshot& s, uint64_t model_id);

// Parses the header and tokens from the start of a record (`bytes` may be just a prefix of the
// file, at least header_bytes long). Checks the magic, version, model id and header checksum.
Result<SnapshotHeader> decode_snapshot_header(std::string_view bytes, uint64_t model_id);

// The whole record: header, payload checksum, and every shape against `m.new_sequence()`.
Result<std::shared_ptr<engine::Snapshot>> decode_snapshot(std::string_view bytes, const model::Model& m,
                                                                 uint64_t model_id);

}  // namespace dsv4::cache

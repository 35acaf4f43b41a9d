// Cheap marks and rollback of a sequence's state (for speculative decoding), and the size of a
// sequence's state split into its fixed part (window rings, partial compressor blocks) and the
// part that grows with the position (compressed KV rows, indexer keys; append-only).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "model/model.h"

namespace dsv4::model {

// What a later rollback of the main layers needs: the fixed-size parts copied, the append-only
// parts as counts. The MTP block's state is not part of it (speculative decoding only ever feeds
// it accepted tokens).
struct SequenceMark {
  int64_t pos = 0;
  struct Layer {
    std::vector<bf16> ring;
    CompressorState compressor, idx_compressor;
    int64_t n_compressed = 0, n_index_keys = 0;
  };
  std::vector<Layer> layers;
  std::shared_ptr<RemoteState> remote;  // later pipeline stages: shared, forked when fed again
};

SequenceMark mark(const Sequence& s);
// Puts the main layers of `s` back to the state they had when `m` was taken (rows appended
// since are dropped).
void rollback(Sequence& s, const SequenceMark& m);

struct StateBytes {
  size_t fixed = 0;    // independent of the position
  size_t growing = 0;  // compressed rows + indexer keys held now
};
StateBytes state_bytes(const Sequence& s);

}  // namespace dsv4::model

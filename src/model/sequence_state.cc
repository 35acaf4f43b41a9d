#include "model/sequence_state.h"

namespace dsv4::model {
namespace {

SequenceMark::Layer mark_layer(const LayerState& st) {
  return {st.ring, st.compressor, st.idx_compressor, st.compressed.rows(), st.index_keys.rows()};
}

void rollback_layer(LayerState& st, const SequenceMark::Layer& m) {
  st.ring = m.ring;
  st.compressor = m.compressor;
  st.idx_compressor = m.idx_compressor;
  st.compressed.truncate(m.n_compressed);
  st.index_keys.truncate(m.n_index_keys);
}

size_t compressor_bytes(const CompressorState& c) { return (c.kv.size() + c.score.size()) * sizeof(float); }

}  // namespace

SequenceMark mark(const Sequence& s) {
  SequenceMark m;
  m.pos = s.pos;
  m.remote = s.remote;
  for (const auto& st : s.layers) m.layers.push_back(mark_layer(st));
  return m;
}

void rollback(Sequence& s, const SequenceMark& m) {
  s.pos = m.pos;
  s.remote = m.remote;
  for (size_t i = 0; i < s.layers.size(); ++i) rollback_layer(s.layers[i], m.layers[i]);
}

StateBytes state_bytes(const Sequence& s) {
  StateBytes b;
  auto add = [&](const LayerState& st) {
    b.fixed += st.ring.size() * sizeof(bf16) + compressor_bytes(st.compressor) + compressor_bytes(st.idx_compressor);
    b.growing += static_cast<size_t>(st.compressed.rows() * st.compressed.width() + st.index_keys.rows() * st.index_keys.width());
  };
  for (const auto& st : s.layers) add(st);
  for (const auto& st : s.mtp) add(st);
  return b;
}

}  // namespace dsv4::model

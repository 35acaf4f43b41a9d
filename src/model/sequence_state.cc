#include "model/sequence_state.h"

namespace dsv4::model {
namespace {

SequenceMark::Layer mark_layer(const LayerState& st) {
  return {st.ring, st.compressor, st.idx_compressor, st.n_compressed, st.n_index_keys};
}

void rollback_layer(LayerState& st, const SequenceMark::Layer& m) {
  st.ring = m.ring;
  st.compressor = m.compressor;
  st.idx_compressor = m.idx_compressor;
  st.n_compressed = m.n_compressed;
  st.compressed.resize(static_cast<size_t>(m.n_compressed) * st.head_dim);
  const size_t key_dim = st.n_index_keys > 0 ? st.index_keys.size() / st.n_index_keys : 0;
  st.n_index_keys = m.n_index_keys;
  st.index_keys.resize(static_cast<size_t>(m.n_index_keys) * key_dim);
}

size_t compressor_bytes(const CompressorState& c) { return (c.kv.size() + c.score.size()) * sizeof(float); }

}  // namespace

SequenceMark mark(const Sequence& s) {
  SequenceMark m;
  m.pos = s.pos;
  for (const auto& st : s.layers) m.layers.push_back(mark_layer(st));
  return m;
}

void rollback(Sequence& s, const SequenceMark& m) {
  s.pos = m.pos;
  for (size_t i = 0; i < s.layers.size(); ++i) rollback_layer(s.layers[i], m.layers[i]);
}

StateBytes state_bytes(const Sequence& s) {
  StateBytes b;
  auto add = [&](const LayerState& st) {
    b.fixed += st.ring.size() * sizeof(bf16) + compressor_bytes(st.compressor) + compressor_bytes(st.idx_compressor);
    b.growing += (st.compressed.size() + st.index_keys.size()) * sizeof(bf16);
  };
  for (const auto& st : s.layers) add(st);
  for (const auto& st : s.mtp) add(st);
  return b;
}

}  // namespace dsv4::model

#include "cache/snapshot_file.h"

#include <xxhash.h>

#include <bit>
#include <cstring>
#include <type_traits>

namespace dsv4::cache {
namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '4', 'S', 'N', 'A', 'P'};
constexpr size_t kFixedHeader = 8 + 4 + 4 + 8 + 8 + 8 + 8;  // magic .. payload_hash

// Little-endian host layout (x86-64, aarch64): the records are a cache, never an exchange format.
static_assert(std::endian::native == std::endian::little);

class Writer {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    put<uint64_t>(v.size());
    if (!v.empty()) out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  template <class T>
  bool get(T* v) {
    if (b_.size() - at_ < sizeof(T)) return fail();
    std::memcpy(v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  template <class T>
  bool vec(std::vector<T>* v) {
    uint64_t n = 0;
    if (!get(&n) || n > (b_.size() - at_) / sizeof(T)) return fail();
    v->resize(n);
    if (n > 0) std::memcpy(v->data(), b_.data() + at_, n * sizeof(T));  // (an empty vector's data() may be null)
    at_ += n * sizeof(T);
    return true;
  }
  size_t at() const { return at_; }
  bool failed() const { return failed_; }

 private:
  bool fail() {
    failed_ = true;
    return false;
  }
  std::string_view b_;
  size_t at_ = 0;
  bool failed_ = false;
};

void put_compressor(Writer& w, const model::CompressorState& c) {
  w.put<int32_t>(c.ratio);
  w.put<int32_t>(c.head_dim);
  w.put<int32_t>(c.rows);
  w.put<int32_t>(c.width);
  w.vec(c.kv);
  w.vec(c.score);
}

void put_layer(Writer& w, const model::LayerState& s) {
  w.put<int32_t>(s.window);
  w.put<int32_t>(s.head_dim);
  w.vec(s.ring);
  w.put<int64_t>(s.compressed.rows());
  w.vec(s.compressed.to_vector());
  put_compressor(w, s.compressor);
  put_compressor(w, s.idx_compressor);
  w.put<int64_t>(s.index_keys.rows());
  w.vec(s.index_keys.to_vector());
}

bool get_compressor(Reader& r, model::CompressorState* c) {
  return r.get(&c->ratio) && r.get(&c->head_dim) && r.get(&c->rows) && r.get(&c->width) && r.vec(&c->kv) &&
         r.vec(&c->score);
}

// The rows as the record holds them, checked against the model later (check_layer).
struct RecordLayer {
  model::LayerState st;
  int64_t n_compressed = 0, n_index_keys = 0;
  std::vector<uint8_t> compressed, index_keys;
};

bool get_layer(Reader& r, RecordLayer* l) {
  model::LayerState* s = &l->st;
  return r.get(&s->window) && r.get(&s->head_dim) && r.vec(&s->ring) && r.get(&l->n_compressed) &&
         r.vec(&l->compressed) && get_compressor(r, &s->compressor) && get_compressor(r, &s->idx_compressor) &&
         r.get(&l->n_index_keys) && r.vec(&l->index_keys);
}

Status check_compressor(const model::CompressorState& c, const model::CompressorState& t, const char* what) {
  if (c.ratio != t.ratio || c.head_dim != t.head_dim || c.rows != t.rows || c.width != t.width)
    return error("{}: ratio / dim / rows / width {}/{}/{}/{} where the model has {}/{}/{}/{}", what, c.ratio, c.head_dim,
                 c.rows, c.width, t.ratio, t.head_dim, t.rows, t.width);
  const size_t n = static_cast<size_t>(t.rows) * static_cast<size_t>(t.width);
  if (c.kv.size() != n || c.score.size() != n) return error("{}: {} / {} values where the model has {}", what, c.kv.size(), c.score.size(), n);
  return ok_status();
}

// One layer against the model's fresh state for it, at position `pos`; then its rows go in.
Status check_layer(RecordLayer& l, const model::LayerState& t, int64_t pos) {
  model::LayerState& s = l.st;
  if (s.window != t.window || s.head_dim != t.head_dim || s.ring.size() != t.ring.size())
    return error("window {} x {} ({} values) where the model has {} x {} ({})", s.window, s.head_dim, s.ring.size(), t.window,
                 t.head_dim, t.ring.size());
  if (auto st = check_compressor(s.compressor, t.compressor, "compressor"); !st.ok()) return st;
  if (auto st = check_compressor(s.idx_compressor, t.idx_compressor, "indexer compressor"); !st.ok()) return st;
  const auto rows_ok = [pos](int64_t n, int ratio) { return n >= 0 && (ratio > 0 ? n <= pos / ratio : n == 0); };
  if (!rows_ok(l.n_compressed, s.compressor.ratio) ||
      l.compressed.size() != static_cast<size_t>(l.n_compressed) * static_cast<size_t>(t.compressed.width()))
    return error("{} compressed rows ({} bytes) at position {}", l.n_compressed, l.compressed.size(), pos);
  if (!rows_ok(l.n_index_keys, s.idx_compressor.ratio) ||
      l.index_keys.size() != static_cast<size_t>(l.n_index_keys) * static_cast<size_t>(t.index_keys.width()))
    return error("{} indexer keys ({} bytes) at position {}", l.n_index_keys, l.index_keys.size(), pos);
  s.compressed.reset(t.compressed.width());
  s.compressed.assign(l.compressed);
  s.index_keys.reset(t.index_keys.width());
  s.index_keys.assign(l.index_keys);
  return ok_status();
}

}  // namespace

std::string encode_snapshot(const engine::Snapshot& s, uint64_t model_id) {
  Writer p;
  const model::Sequence& q = s.seq;
  p.put<int64_t>(q.pos);
  p.put<int64_t>(q.mtp_pos);
  p.put<uint32_t>(static_cast<uint32_t>(q.layers.size()));
  p.put<uint32_t>(static_cast<uint32_t>(q.mtp.size()));
  for (const auto& l : q.layers) put_layer(p, l);
  for (const auto& l : q.mtp) put_layer(p, l);
  p.vec(s.last_logits);
  p.vec(s.last_state);
  p.put<uint64_t>(s.fixed_bytes);
  p.put<uint64_t>(s.growing_bytes);
  const std::string& payload = p.str();

  Writer h;
  h.str().append(kMagic, sizeof kMagic);
  h.put<uint32_t>(kSnapshotFormatVersion);
  h.put<uint32_t>(0);
  h.put<uint64_t>(model_id);
  h.put<uint64_t>(s.tokens.size());
  h.put<uint64_t>(payload.size());
  h.put<uint64_t>(XXH3_64bits(payload.data(), payload.size()));
  if (!s.tokens.empty()) h.str().append(reinterpret_cast<const char*>(s.tokens.data()), s.tokens.size() * sizeof(int32_t));
  h.put<uint64_t>(XXH3_64bits(h.str().data(), h.str().size()));
  std::string out = std::move(h.str());
  out += payload;
  return out;
}

Result<SnapshotHeader> decode_snapshot_header(std::string_view b, uint64_t model_id) {
  if (b.size() < kFixedHeader || std::memcmp(b.data(), kMagic, sizeof kMagic) != 0)
    return error("not a dsv4 snapshot (bad magic or shorter than its header)");
  Reader r(b.substr(sizeof kMagic));
  uint32_t version = 0, reserved = 0;
  SnapshotHeader h;
  uint64_t n = 0;
  r.get(&version);
  r.get(&reserved);
  if (version != kSnapshotFormatVersion) return error("snapshot format version {} (this build reads {})", version, kSnapshotFormatVersion);
  r.get(&h.model_id);
  r.get(&n);
  r.get(&h.payload_bytes);
  r.get(&h.payload_hash);
  if (h.model_id != model_id) return error("the snapshot is of another model (id {:016x}, this one is {:016x})", h.model_id, model_id);
  if (n > (b.size() - kFixedHeader) / sizeof(int32_t)) return error("truncated snapshot header ({} tokens announced)", n);
  const size_t tokens_end = kFixedHeader + n * sizeof(int32_t);
  if (b.size() < tokens_end + sizeof(uint64_t)) return error("truncated snapshot header ({} tokens announced)", n);
  uint64_t want = 0;
  std::memcpy(&want, b.data() + tokens_end, sizeof want);
  if (XXH3_64bits(b.data(), tokens_end) != want) return error("snapshot header checksum mismatch");
  h.tokens.resize(n);
  if (n > 0) std::memcpy(h.tokens.data(), b.data() + kFixedHeader, n * sizeof(int32_t));
  h.header_bytes = tokens_end + sizeof(uint64_t);
  return h;
}

Result<std::shared_ptr<engine::Snapshot>> decode_snapshot(std::string_view b, const model::Model& m, uint64_t model_id) {
  auto h = decode_snapshot_header(b, model_id);
  if (!h.ok()) return h.status();
  const std::string_view payload = b.substr(h->header_bytes);
  if (payload.size() != h->payload_bytes)
    return error("snapshot payload is {} bytes, the header says {} (truncated or padded)", payload.size(), h->payload_bytes);
  if (XXH3_64bits(payload.data(), payload.size()) != h->payload_hash) return error("snapshot payload checksum mismatch");

  auto s = std::make_shared<engine::Snapshot>();
  s->tokens = std::move(h->tokens);
  Reader r(payload);
  model::Sequence& q = s->seq;
  uint32_t nl = 0, nm = 0;
  r.get(&q.pos);
  r.get(&q.mtp_pos);
  r.get(&nl);
  r.get(&nm);
  const model::Sequence fresh = m.new_sequence();
  if (nl != fresh.layers.size() || nm != fresh.mtp.size())
    return error("snapshot has {} layers + {} MTP blocks, the model {} + {}", nl, nm, fresh.layers.size(), fresh.mtp.size());
  // (After speculative drafting the MTP block may be one pair ahead of the main layers.)
  if (q.pos != static_cast<int64_t>(s->tokens.size()) || q.mtp_pos < 0 || q.mtp_pos > q.pos + 1)
    return error("snapshot position {} (MTP {}) does not match its {} tokens", q.pos, q.mtp_pos, s->tokens.size());
  q.layers.resize(nl);
  q.mtp.resize(nm);
  for (uint32_t i = 0; i < nl + nm; ++i) {
    RecordLayer l;
    if (!get_layer(r, &l)) return error("snapshot payload ends inside layer {}", i);
    const model::LayerState& t = i < nl ? fresh.layers[i] : fresh.mtp[i - nl];
    if (auto st = check_layer(l, t, i < nl ? q.pos : q.mtp_pos); !st.ok()) return error("snapshot layer {}: {}", i, st.message());
    (i < nl ? q.layers[i] : q.mtp[i - nl]) = std::move(l.st);
  }
  uint64_t fixed = 0, growing = 0;
  if (!r.vec(&s->last_logits) || !r.vec(&s->last_state) || !r.get(&fixed) || !r.get(&growing))
    return error("snapshot payload ends before the last position's logits and state");
  if (r.at() != payload.size()) return error("snapshot payload has {} trailing bytes", payload.size() - r.at());
  const auto& c = m.config();
  if (s->last_logits.size() != static_cast<size_t>(c.vocab_size) || s->last_state.size() != static_cast<size_t>(c.hc_dim()))
    return error("snapshot logits / state have {} / {} values, the model {} / {}", s->last_logits.size(), s->last_state.size(),
                 c.vocab_size, c.hc_dim());
  s->fixed_bytes = fixed;
  s->growing_bytes = growing;
  return s;
}

}  // namespace dsv4::cache

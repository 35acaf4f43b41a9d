#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/splitmix64.h"
#include "train/gemm.h"
#include "train/moe.h"

namespace dsv4::train {
namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '4', 'T', 'R', 'N', '1'};
constexpr uint32_t kVersion = 1;

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// What a state file must match: every parameter's name and shape, in order.
uint64_t layout_fingerprint(const Params<float>& ps) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const ParamEntry& e : ps.entries()) {
    h = fnv1a(e.name.data(), e.name.size(), h);
    h = fnv1a(e.shape.data(), e.shape.size() * sizeof(int64_t), h);
  }
  return h;
}

class Writer {
 public:
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf.insert(buf.end(), b, b + n);
  }
  template <typename T>
  void pod(T v) {
    bytes(&v, sizeof v);
  }
  template <typename T>
  void vec(const std::vector<T>& v) {
    pod<uint64_t>(v.size());
    bytes(v.data(), v.size() * sizeof(T));
  }
  std::vector<uint8_t> buf;
};

class Reader {
 public:
  Reader(const std::vector<uint8_t>& b, const std::string& path) : buf_(b), path_(path) {}
  Status bytes(void* p, size_t n) {
    if (n > buf_.size() - at_) return error("{}: truncated state file", path_);
    std::memcpy(p, buf_.data() + at_, n);
    at_ += n;
    return ok_status();
  }
  template <typename T>
  Status pod(T* v) {
    return bytes(v, sizeof *v);
  }
  template <typename T>
  Status vec(std::vector<T>* v, size_t expect) {
    uint64_t n = 0;
    DSV4_TRY(pod(&n));
    if (n != expect) return error("{}: holds {} values where this model has {}", path_, n, expect);
    v->resize(n);
    return bytes(v->data(), n * sizeof(T));
  }

 private:
  const std::vector<uint8_t>& buf_;
  std::string path_;
  size_t at_ = 0;
};

}  // namespace

Trainer::Trainer(Params<float>& ps, TrainOptions o, std::vector<int32_t> train_tokens,
                 std::vector<int32_t> heldout_tokens)
    : ps_(ps),
      o_(o),
      train_(std::move(train_tokens)),
      heldout_(std::move(heldout_tokens)),
      model_(ps, o.loss),
      opt_(ps, o.optim) {}

std::vector<int32_t> Trainer::batch_at(int64_t step) const {
  const int64_t w = o_.seq + 1, span = static_cast<int64_t>(train_.size()) - w;
  std::vector<int32_t> rows(o_.batch * w);
  for (int64_t r = 0; r < o_.batch; ++r) {
    SplitMix64 rng(o_.seed * 0x9e3779b97f4a7c15ull ^ (static_cast<uint64_t>(step) << 20) ^ static_cast<uint64_t>(r));
    const int64_t at = span > 0 ? static_cast<int64_t>(rng.next() % static_cast<uint64_t>(span + 1)) : 0;
    std::copy_n(train_.begin() + at, w, rows.begin() + r * w);
  }
  return rows;
}

StepLog Trainer::train_step() {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t flops0 = gemm_flops();
  const std::vector<int32_t> rows = batch_at(step_);
  ps_.zero_grad();
  const StepLoss<float> l = model_.step(rows.data(), o_.batch, o_.seq, true);
  StepLog log;
  log.lr = opt_.lr_at(step_);
  log.grad_norm = opt_.step(ps_, step_);
  const auto& loads = model_.loads();
  for (size_t b = 0; b < loads.size(); ++b)
    update_route_bias(model_.blocks()[b], loads[b], static_cast<float>(o_.bias_rate));
  ++step_;
  log.step = step_;
  log.main = l.main;
  log.mtp = l.mtp;
  log.indexer_kl = l.indexer_kl;
  log.loss = l.total();
  log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log.gemm_flops = static_cast<double>(gemm_flops() - flops0);
  return log;
}

double Trainer::heldout_loss() {
  const int64_t w = o_.seq + 1;
  const int64_t windows = std::min<int64_t>((static_cast<int64_t>(heldout_.size()) - 1) / o_.seq,
                                            std::max<int64_t>(1, o_.eval_tokens / o_.seq));
  if (windows <= 0) return NAN;
  double sum = 0;
  for (int64_t i0 = 0; i0 < windows; i0 += o_.batch) {
    const int64_t nb = std::min(o_.batch, windows - i0);
    std::vector<int32_t> rows(nb * w);
    for (int64_t r = 0; r < nb; ++r) std::copy_n(heldout_.begin() + (i0 + r) * o_.seq, w, rows.begin() + r * w);
    sum += double(model_.step(rows.data(), nb, o_.seq, false).main) * nb;
  }
  return sum / double(windows);
}

Status Trainer::save_state(const std::string& path) const {
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.pod(kVersion);
  w.pod<int64_t>(step_);
  w.pod(layout_fingerprint(ps_));
  w.vec(ps_.values);
  w.vec(const_cast<Optimizer&>(opt_).m());
  w.vec(const_cast<Optimizer&>(opt_).v());
  w.pod<uint64_t>(ps_.hash_tables().size());
  for (const auto& [name, table] : ps_.hash_tables()) {
    w.pod<uint64_t>(name.size());
    w.bytes(name.data(), name.size());
    w.vec(table);
  }
  w.pod(fnv1a(w.buf.data(), w.buf.size()));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(w.buf.data()), static_cast<std::streamsize>(w.buf.size()));
    out.close();
    if (!out) return error("{}: cannot write", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return error("{}: cannot rename to {}: {}", tmp, path, ec.message());
  return ok_status();
}

Status Trainer::load_state(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("{}: cannot open", path);
  std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (buf.size() < sizeof kMagic + 8 || std::memcmp(buf.data(), kMagic, sizeof kMagic) != 0)
    return error("{}: not a dsv4 training state", path);
  uint64_t sum = 0;
  std::memcpy(&sum, buf.data() + buf.size() - 8, 8);
  if (fnv1a(buf.data(), buf.size() - 8) != sum) return error("{}: checksum mismatch (corrupt file)", path);
  Reader r(buf, path);
  char magic[8];
  uint32_t version = 0;
  int64_t step = 0;
  uint64_t fp = 0;
  DSV4_TRY(r.bytes(magic, sizeof magic));
  DSV4_TRY(r.pod(&version));
  if (version != kVersion) return error("{}: state version {} (this build reads {})", path, version, kVersion);
  DSV4_TRY(r.pod(&step));
  DSV4_TRY(r.pod(&fp));
  if (fp != layout_fingerprint(ps_)) return error("{}: saved for a different model config", path);
  std::vector<float> values, m, v;
  DSV4_TRY(r.vec(&values, ps_.values.size()));
  DSV4_TRY(r.vec(&m, ps_.values.size()));
  DSV4_TRY(r.vec(&v, ps_.values.size()));
  uint64_t n_tables = 0;
  DSV4_TRY(r.pod(&n_tables));
  if (n_tables != ps_.hash_tables().size()) return error("{}: {} hash tables, expected {}", path, n_tables, ps_.hash_tables().size());
  for (uint64_t i = 0; i < n_tables; ++i) {
    uint64_t len = 0;
    DSV4_TRY(r.pod(&len));
    if (len > 4096) return error("{}: bad table name", path);
    std::string name(len, '\0');
    DSV4_TRY(r.bytes(name.data(), len));
    if (!ps_.hash_table(name)) return error("{}: unknown hash table {}", path, name);
    std::vector<int32_t>& t = ps_.hash_table_mut(name);
    DSV4_TRY(r.vec(&t, t.size()));
  }
  // Copy into the existing arrays: the model's block views point into them.
  std::copy(values.begin(), values.end(), ps_.values.begin());
  opt_.m() = std::move(m);
  opt_.v() = std::move(v);
  step_ = step;
  return ok_status();
}

}  // namespace dsv4::train

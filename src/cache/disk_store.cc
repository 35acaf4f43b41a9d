#include "cache/disk_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "cache/snapshot_file.h"

namespace dsv4::cache {
namespace fs = std::filesystem;
namespace {

constexpr const char* kExt = ".dsv4snap";
// Writes wait in RAM at most this far beyond the budget's worth... bounded so that a slow disk
// never makes the queue grow without limit: later snapshots are dropped (they stay in RAM).
constexpr uint64_t kMaxQueuedBytes = 1ull << 30;

std::optional<std::string> read_file(const std::string& p, size_t limit = SIZE_MAX) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool write_all(int fd, const std::string& s) {
  size_t at = 0;
  while (at < s.size()) {
    const ssize_t n = ::write(fd, s.data() + at, s.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

DiskStore::DiskStore(std::string dir, uint64_t budget, const model::Model& m, uint64_t id, Log log)
    : dir_(std::move(dir)), budget_(budget), model_(m), id_(id), log_(std::move(log)) {
  if (!log_) log_ = [](const std::string& s) { fmt::print(stderr, "{}\n", s); };
}

Result<std::unique_ptr<DiskStore>> DiskStore::open(const std::string& dir, uint64_t budget, const model::Model& m,
                                                   uint64_t model_id, Log log) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return error("cannot create the cache directory {}: {}", dir, ec.message());
  if (!fs::is_directory(dir, ec)) return error("the cache directory {} is not a directory", dir);
  std::unique_ptr<DiskStore> d(new DiskStore(dir, budget, m, model_id, std::move(log)));
  d->lock_fd_ = ::open((dir + "/lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (d->lock_fd_ < 0) return error("cannot open {}/lock: {}", dir, std::strerror(errno));
  d->writer_ = ::flock(d->lock_fd_, LOCK_EX | LOCK_NB) == 0;
  d->stats_.writer = d->writer_;
  if (!d->writer_) d->log_(fmt::format("prefix cache: another process writes to {}; this one only reads it", dir));
  d->scan();
  if (d->writer_) d->thread_ = std::thread([p = d.get()] { p->writer_loop(); });
  return d;
}

DiskStore::~DiskStore() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string DiskStore::file_name(std::span<const int32_t> tokens) const {
  const XXH128_hash_t h = XXH3_128bits(tokens.data(), tokens.size_bytes());
  return fmt::format("{:016x}-{:016x}{:016x}{}", id_, h.high64, h.low64, kExt);
}

void DiskStore::scan() {
  static const std::regex kName("^([0-9a-f]{16})-[0-9a-f]{32}\\.dsv4snap$");
  const std::string ours = fmt::format("{:016x}", id_);
  std::vector<std::pair<fs::file_time_type, Entry>> found;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir_, ec)) {
    const std::string name = de.path().filename().string();
    std::smatch mt;
    if (name.starts_with(".tmp-")) {  // a writer died mid-write; only the writer may clean up
      if (writer_) fs::remove(de.path(), ec);
      continue;
    }
    if (!std::regex_match(name, mt, kName)) continue;  // not ours to judge (lock, other files)
    if (mt[1] != ours) continue;                        // another model's snapshot: left alone
    auto bad = [&](const std::string& why) {
      log_(fmt::format("prefix cache: {} is {}; {}", name, why, writer_ ? "removed" : "ignored"));
      ++stats_.removed_bad;
      if (writer_) fs::remove(de.path(), ec);
    };
    const uint64_t size = de.file_size(ec);
    // Header: the fixed part says how many tokens follow.
    auto head = read_file(de.path().string(), 48);
    if (!head || head->size() < 48) {
      bad("truncated");
      continue;
    }
    uint64_t n = 0;
    std::memcpy(&n, head->data() + 24, sizeof n);
    if (n > size / 4) {
      bad("truncated or damaged (its token count exceeds its size)");
      continue;
    }
    auto hb = read_file(de.path().string(), 48 + n * 4 + 8);
    auto h = hb ? decode_snapshot_header(*hb, id_) : Result<SnapshotHeader>(error("unreadable"));
    if (!h.ok()) {
      bad(h.message());
      continue;
    }
    if (h->header_bytes + h->payload_bytes != size) {
      bad(fmt::format("{} bytes where its header says {} (truncated)", size, h->header_bytes + h->payload_bytes));
      continue;
    }
    if (file_name(h->tokens) != name) {
      bad("named for other tokens than it holds");
      continue;
    }
    Entry e;
    e.hash = PrefixHashes::of(h->tokens);
    e.tokens = std::move(h->tokens);
    e.name = name;
    e.bytes = size;
    found.emplace_back(de.last_write_time(ec), std::move(e));
  }
  // The least recently used first (mtimes are touched on every hit).
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [t, e] : found) {
    e.last_use = ++clock_;
    stats_.bytes += e.bytes;
    entries_.push_back(std::move(e));
  }
  stats_.files = static_cast<int64_t>(entries_.size());
  if (writer_) evict_locked();
}

const DiskStore::Entry* DiskStore::best_locked(const PrefixHashes& ph, std::span<const int32_t> prompt, size_t min_len,
                                               size_t max_len) const {
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    const size_t n = e.tokens.size();
    if (n <= min_len || n > max_len || n > ph.size() || (best && n <= best->tokens.size())) continue;
    if (ph.at(n) == e.hash && is_prefix(e.tokens, prompt)) best = &e;
  }
  return best;
}

size_t DiskStore::longest(const PrefixHashes& ph, std::span<const int32_t> prompt) const {
  std::lock_guard<std::mutex> l(mu_);
  const Entry* e = best_locked(ph, prompt, 0, prompt.size());
  return e ? e->tokens.size() : 0;
}

std::shared_ptr<engine::Snapshot> DiskStore::load_longest(const PrefixHashes& ph, std::span<const int32_t> prompt,
                                                                size_t min_len, size_t max_len) {
  for (;;) {
    std::string name;
    {
      std::lock_guard<std::mutex> l(mu_);
      const Entry* e = best_locked(ph, prompt, min_len, max_len);
      if (!e) return nullptr;
      name = e->name;
    }
    auto bytes = read_file(path(name));
    std::lock_guard<std::mutex> l(mu_);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& x) { return x.name == name; });
    if (it == entries_.end()) continue;  // evicted meanwhile
    const size_t i = static_cast<size_t>(it - entries_.begin());
    if (!bytes) {  // removed by the writing process: forget it, not an error
      stats_.bytes -= it->bytes;
      entries_.erase(it);
      stats_.files = static_cast<int64_t>(entries_.size());
      continue;
    }
    auto s = decode_snapshot(*bytes, model_, id_);
    if (!s.ok()) {
      ++stats_.removed_bad;
      remove_locked(i, s.message());
      continue;
    }
    it->last_use = ++clock_;
    ::utimensat(AT_FDCWD, path(name).c_str(), nullptr, 0);  // the LRU order survives restarts
    return *s;
  }
}

void DiskStore::put(std::shared_ptr<const engine::Snapshot> s) {
  if (!writer_ || !s) return;
  const uint64_t approx = (s->fixed_bytes + s->growing_bytes) + (s->last_logits.size() + s->last_state.size()) * 4 +
                          s->tokens.size() * 4;
  std::lock_guard<std::mutex> l(mu_);
  if (approx > budget_) return;
  const std::string name = file_name(s->tokens);
  if (std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.name == name; })) return;
  if (name == writing_) return;
  for (const auto& q : queue_)
    if (q->tokens == s->tokens) return;
  if (queued_bytes_ + approx > kMaxQueuedBytes) {
    ++stats_.dropped_writes;
    return;
  }
  queued_bytes_ += approx;
  queue_.push_back(std::move(s));
  cv_.notify_all();
}

void DiskStore::flush() {
  std::unique_lock<std::mutex> l(mu_);
  idle_cv_.wait(l, [&] { return (queue_.empty() && !busy_) || !writer_; });
}

void DiskStore::writer_loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stop_ with nothing left
    auto s = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    writing_ = file_name(s->tokens);
    l.unlock();
    write_one(*s);
    l.lock();
    queued_bytes_ -= std::min<uint64_t>(queued_bytes_, (s->fixed_bytes + s->growing_bytes) +
                                                            (s->last_logits.size() + s->last_state.size()) * 4 +
                                                            s->tokens.size() * 4);
    busy_ = false;
    writing_.clear();
    idle_cv_.notify_all();
  }
  idle_cv_.notify_all();
}

void DiskStore::write_one(const engine::Snapshot& s) {
  static std::atomic<uint64_t> counter{0};
  const std::string name = file_name(s.tokens);
  const std::string bytes = encode_snapshot(s, id_);
  const std::string tmp = path(fmt::format(".tmp-{}-{}", ::getpid(), counter++));
  const int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write_all(fd, bytes) && ::fsync(fd) == 0;
  if (fd >= 0) ok = (::close(fd) == 0) && ok;
  ok = ok && ::rename(tmp.c_str(), path(name).c_str()) == 0;
  if (!ok) {
    const int err = errno;
    ::unlink(tmp.c_str());
    std::lock_guard<std::mutex> l(mu_);
    if (stats_.write_failures++ == 0)  // reported once: a full disk would otherwise flood the log
      log_(fmt::format("prefix cache: writing {} failed: {} (further failures are counted, not logged)", name, std::strerror(err)));
    return;
  }
  fsync_dir(dir_);
  std::lock_guard<std::mutex> l(mu_);
  Entry e;
  e.hash = PrefixHashes::of(s.tokens);
  e.tokens = s.tokens;
  e.name = name;
  e.bytes = bytes.size();
  e.last_use = ++clock_;
  stats_.bytes += e.bytes;
  stats_.written_bytes += e.bytes;
  ++stats_.writes;
  entries_.push_back(std::move(e));
  stats_.files = static_cast<int64_t>(entries_.size());
  evict_locked();
}

void DiskStore::remove_locked(size_t i, const std::string& why) {
  const Entry& e = entries_[i];
  if (!why.empty()) log_(fmt::format("prefix cache: {} is bad ({}); {}", e.name, why, writer_ ? "removed" : "ignored"));
  if (writer_) ::unlink(path(e.name).c_str());
  stats_.bytes -= e.bytes;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
  stats_.files = static_cast<int64_t>(entries_.size());
}

void DiskStore::evict_locked() {
  while (stats_.bytes > budget_ && !entries_.empty()) {
    size_t lru = 0;
    for (size_t i = 1; i < entries_.size(); ++i)
      if (entries_[i].last_use < entries_[lru].last_use) lru = i;
    remove_locked(lru, "");
    ++stats_.evictions;
  }
}

DiskStats DiskStore::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace dsv4::cache

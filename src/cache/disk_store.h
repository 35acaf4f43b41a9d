// The on-disk half of the prefix cache: one file per snapshot in a directory, named by the
// model's fingerprint and a 128-bit hash of the token prefix, so a file is never rewritten (the
// same name holds the same content) and another model's files never match. Files are written
// atomically off the request path (a writer thread: temporary file, fsync, rename, fsync of the
// directory) and evicted least recently used to stay under the byte budget.
//
// Robustness: at start-up every file's header is checked (magic, version, checksum, its name
// against its tokens, its size against the header); a bad file is reported once and removed. A
// file that fails its payload checksum when read is reported, removed and treated as a miss.
// Several processes may share a directory: the one holding the directory's lock (flock on
// DIR/lock) writes and evicts; the others only read, and a file removed under them is a miss.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "cache/prefix_index.h"
#include "engine/request.h"
#include "model/model.h"

namespace dsv4::cache {

struct DiskStats {
  int64_t files = 0;
  uint64_t bytes = 0, written_bytes = 0;  // held now / written since start
  int64_t writes = 0, write_failures = 0, dropped_writes = 0;
  int64_t evictions = 0, removed_bad = 0;
  bool writer = false;
};

class DiskStore {
 public:
  using Log = std::function<void(const std::string&)>;
  // Creates the directory if needed and indexes what is in it.
  static Result<std::unique_ptr<DiskStore>> open(const std::string& dir, uint64_t budget_bytes, const model::Model& m,
                                                 uint64_t model_id, Log log);
  ~DiskStore();  // finishes the queued writes

  // The longest stored prefix of `prompt` no longer than `max_len` and longer than `min_len`,
  // read and verified (a fresh copy the caller may still adjust); nullptr when there is none (or
  // it turned out bad, which is reported and removed, or vanished).
  std::shared_ptr<engine::Snapshot> load_longest(const PrefixHashes& ph, std::span<const int32_t> prompt,
                                                 size_t min_len, size_t max_len);
  // The length of the longest stored prefix of `prompt` (0 if none), without reading it.
  size_t longest(const PrefixHashes& ph, std::span<const int32_t> prompt) const;
  // Queues a snapshot for writing (no-op if it is on disk already, too big for the budget, or
  // this process is not the writer). Never blocks on I/O.
  void put(std::shared_ptr<const engine::Snapshot> s);
  // Waits until the queue is empty (tests, shutdown).
  void flush();
  DiskStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    uint64_t hash = 0;  // PrefixHashes::of(tokens)
    std::string name;
    uint64_t bytes = 0;
    int64_t last_use = 0;  // a logical clock, seeded from the files' mtimes
  };
  DiskStore(std::string dir, uint64_t budget, const model::Model& m, uint64_t id, Log log);
  void scan();
  void writer_loop();
  void write_one(const engine::Snapshot& s);
  void evict_locked();
  void remove_locked(size_t i, const std::string& why);
  const Entry* best_locked(const PrefixHashes& ph, std::span<const int32_t> prompt, size_t min_len, size_t max_len) const;
  std::string file_name(std::span<const int32_t> tokens) const;
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  const std::string dir_;
  const uint64_t budget_;
  const model::Model& model_;
  const uint64_t id_;
  Log log_;
  int lock_fd_ = -1;
  bool writer_ = false;

  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  std::deque<std::shared_ptr<const engine::Snapshot>> queue_;
  uint64_t queued_bytes_ = 0;
  std::string writing_;  // the file being written now
  bool busy_ = false, stop_ = false;
  std::condition_variable cv_, idle_cv_;
  int64_t clock_ = 0;
  DiskStats stats_;
  std::thread thread_;
};

}  // namespace dsv4::cache

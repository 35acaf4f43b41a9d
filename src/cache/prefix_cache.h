// The prefix cache: engine snapshots kept by token prefix so that a request whose prompt starts
// with cached state resumes from the longest such point instead of prefilling it again (what
// the DeepSeek API bills as a cache hit). RAM holds recently used snapshots under a byte budget
// (least recently used evicted first; a snapshot a running request holds is never evicted);
// with a directory, every snapshot also goes to disk (disk_store.h) and survives restarts.
//
// Thread-safe. The server asks lookup() before submitting a request, tells the engine where to
// take snapshots (snapshot_points()), and hands every snapshot it gets back to insert().
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "cache/disk_store.h"
#include "engine/request.h"
#include "model/model.h"

namespace dsv4::cache {

struct CacheOptions {
  uint64_t ram_bytes = 0;       // 0: no RAM cache (disk hits are then used once, not kept)
  std::string dir;              // empty: no disk cache
  uint64_t disk_bytes = 0;
  int64_t interval = 4096;      // also snapshot every this many prompt tokens (0: never)
  int64_t min_tokens = 64;      // prompts shorter than this are not worth a snapshot
};

struct CacheStats {
  int64_t lookups = 0, ram_hits = 0, disk_hits = 0;
  int64_t hit_tokens = 0, lookup_tokens = 0;  // tokens served from the cache / asked for
  int64_t entries = 0, inserts = 0, evictions = 0;
  // RAM held (snapshots of one prefix share its compressed rows, counted once) and what the
  // snapshots would take as separate copies.
  uint64_t bytes = 0, budget = 0, unshared_bytes = 0;
  DiskStats disk;
  bool has_disk = false;
};

struct CacheHit {
  std::shared_ptr<const engine::Snapshot> snapshot;  // null: miss
  bool from_disk = false;
};

class PrefixCache {
 public:
  using Log = DiskStore::Log;
  static Result<std::unique_ptr<PrefixCache>> open(const model::Model& m, CacheOptions o, Log log);

  // The longest cached state whose tokens prefix `prompt` (all of it at most).
  CacheHit lookup(std::span<const int32_t> prompt);
  // The prompt positions (ascending, within (from, prompt_len]) where a request should emit
  // snapshots: every `interval` tokens and the end of the prompt.
  std::vector<int64_t> snapshot_points(int64_t from, int64_t prompt_len) const;
  // Where `prompt` stops agreeing with the most similar of the last prompts seen (their longest
  // common prefix, 0 when under min_tokens): snapshotting there lets requests that share a system
  // prompt or tool list but differ after it resume from the shared part. Records `prompt`.
  int64_t shared_prefix_point(std::span<const int32_t> prompt);
  void insert(std::shared_ptr<const engine::Snapshot> s);
  void flush_disk();  // waits for queued disk writes
  CacheStats stats() const;
  uint64_t model_id() const { return model_id_; }

  // A snapshot's size as a separate copy (its fixed part + every row it holds).
  static uint64_t snapshot_bytes(const engine::Snapshot& s);

 private:
  struct Entry {
    std::shared_ptr<const engine::Snapshot> snap;
    uint64_t hash = 0;
    uint64_t bytes = 0;  // snapshot_bytes
  };
  struct BlockUse {
    int64_t refs = 0;
    uint64_t bytes = 0;
    uint64_t content_hash = 0;  // full blocks only (else 0 and not in by_content_)
  };
  // Bytes inserting `s` adds: its own part plus the row blocks no held snapshot shares yet.
  uint64_t added_bytes_locked(const engine::Snapshot& s) const;
  void hold_blocks_locked(const engine::Snapshot& s);
  void release_blocks_locked(const engine::Snapshot& s);
  // Makes a snapshot read from disk share every full row block equal to one held in RAM.
  void share_held_blocks_locked(engine::Snapshot& s) const;
  PrefixCache(CacheOptions o, uint64_t id) : opt_(std::move(o)), model_id_(id) {}
  void insert_ram_locked(std::shared_ptr<const engine::Snapshot> s);
  void evict_locked();

  const CacheOptions opt_;
  const uint64_t model_id_;
  std::unique_ptr<DiskStore> disk_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::list<std::vector<int32_t>> recent_;  // the last prompts seen, newest first
  std::unordered_map<const void*, BlockUse> blocks_;  // row blocks of the held snapshots
  // The held full blocks by content hash (xxh3 of their values).
  std::unordered_multimap<uint64_t, std::shared_ptr<const model::RowStore::Block>> by_content_;
  uint64_t bytes_ = 0, unshared_bytes_ = 0;
  CacheStats stats_;
};

}  // namespace dsv4::cache

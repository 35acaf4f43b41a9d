#include "cache/prefix_cache.h"

#include <algorithm>
#include <cstring>

#include <xxhash.h>

#include "cache/model_identity.h"

namespace dsv4::cache {
namespace {

// Every row store of a snapshot's layers (compressed rows and indexer keys).
template <class S, class F>
void for_each_store(S& s, F&& f) {
  for (auto* layers : {&s.seq.layers, &s.seq.mtp})
    for (auto& st : *layers) {
      f(st.compressed);
      f(st.index_keys);
    }
}

// Every row block a snapshot holds: f(id, bytes).
template <class F>
void for_each_block(const engine::Snapshot& s, F&& f) {
  for_each_store(s, [&](const model::RowStore& r) { r.for_each_block(f); });
}

uint64_t content_hash(const model::RowStore::Block& b) { return XXH3_64bits(b.data(), b.size()) | 1; }

}  // namespace

uint64_t PrefixCache::snapshot_bytes(const engine::Snapshot& s) {
  return s.fixed_bytes + s.growing_bytes + (s.last_logits.size() + s.last_state.size()) * sizeof(float) +
         s.tokens.size() * sizeof(int32_t);
}

Result<std::unique_ptr<PrefixCache>> PrefixCache::open(const model::Model& m, CacheOptions o, Log log) {
  if (o.interval < 0) return error("the snapshot interval must be >= 0 (got {})", o.interval);
  const uint64_t id = model_fingerprint(m);
  std::unique_ptr<PrefixCache> c(new PrefixCache(o, id));
  c->stats_.budget = o.ram_bytes;
  if (!o.dir.empty()) {
    auto d = DiskStore::open(o.dir, o.disk_bytes, m, id, std::move(log));
    if (!d.ok()) return d.status();
    c->disk_ = std::move(*d);
    c->stats_.has_disk = true;
  }
  return c;
}

CacheHit PrefixCache::lookup(std::span<const int32_t> prompt) {
  const PrefixHashes ph(prompt);
  CacheHit hit;
  size_t best_len = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.lookups;
    stats_.lookup_tokens += static_cast<int64_t>(prompt.size());
    auto best = lru_.end();
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      const size_t n = it->snap->tokens.size();
      if (n <= best_len || n > prompt.size() || ph.at(n) != it->hash || !is_prefix(it->snap->tokens, prompt)) continue;
      best = it;
      best_len = n;
    }
    if (best != lru_.end()) {
      lru_.splice(lru_.begin(), lru_, best);  // most recently used
      hit.snapshot = best->snap;
    }
  }
  // A longer prefix on disk (written by an earlier run, or evicted from RAM) wins.
  if (disk_) {
    if (auto s = disk_->load_longest(ph, prompt, best_len, prompt.size())) {
      std::lock_guard<std::mutex> l(mu_);
      share_held_blocks_locked(*s);
      hit.snapshot = s;
      hit.from_disk = true;
      insert_ram_locked(std::move(s));
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (hit.snapshot) {
    ++(hit.from_disk ? stats_.disk_hits : stats_.ram_hits);
    stats_.hit_tokens += static_cast<int64_t>(hit.snapshot->tokens.size());
  }
  return hit;
}

std::vector<int64_t> PrefixCache::snapshot_points(int64_t from, int64_t prompt_len) const {
  std::vector<int64_t> at;
  if (prompt_len < opt_.min_tokens) return at;
  if (opt_.interval > 0)
    for (int64_t p = (from / opt_.interval + 1) * opt_.interval; p < prompt_len; p += opt_.interval) at.push_back(p);
  if (prompt_len > from) at.push_back(prompt_len);
  return at;
}

int64_t PrefixCache::shared_prefix_point(std::span<const int32_t> prompt) {
  constexpr size_t kRecent = 32;
  std::lock_guard<std::mutex> l(mu_);
  size_t best = 0;
  for (const auto& p : recent_) {
    const size_t n = std::min(p.size(), prompt.size());
    const size_t common = static_cast<size_t>(std::mismatch(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n), prompt.begin()).first - p.begin());
    best = std::max(best, common);
  }
  recent_.emplace_front(prompt.begin(), prompt.end());
  if (recent_.size() > kRecent) recent_.pop_back();
  return static_cast<int64_t>(best) >= opt_.min_tokens ? static_cast<int64_t>(best) : 0;
}

void PrefixCache::insert(std::shared_ptr<const engine::Snapshot> s) {
  if (!s || static_cast<int64_t>(s->tokens.size()) < opt_.min_tokens) return;
  if (disk_) disk_->put(s);
  std::lock_guard<std::mutex> l(mu_);
  insert_ram_locked(std::move(s));
}

uint64_t PrefixCache::added_bytes_locked(const engine::Snapshot& s) const {
  uint64_t b = snapshot_bytes(s) - s.growing_bytes;
  for_each_block(s, [&](const void* id, size_t n) {
    if (!blocks_.count(id)) b += n;
  });
  return b;
}

void PrefixCache::hold_blocks_locked(const engine::Snapshot& s) {
  bytes_ += snapshot_bytes(s) - s.growing_bytes;
  for_each_block(s, [&](const void* id, size_t n) {
    BlockUse& u = blocks_[id];
    if (u.refs++ == 0) {
      u.bytes = n;
      bytes_ += n;
    }
  });
  // Index the full blocks new to the cache by content, for snapshots read back from disk.
  for_each_store(s, [&](const model::RowStore& r) {
    r.for_each_full_block([&](std::shared_ptr<const model::RowStore::Block> b) {
      BlockUse& u = blocks_[b.get()];
      if (u.content_hash != 0) return;
      u.content_hash = content_hash(*b);
      by_content_.emplace(u.content_hash, std::move(b));
    });
  });
}

void PrefixCache::release_blocks_locked(const engine::Snapshot& s) {
  bytes_ -= snapshot_bytes(s) - s.growing_bytes;
  for_each_block(s, [&](const void* id, size_t) {
    auto it = blocks_.find(id);
    if (--it->second.refs > 0) return;
    if (it->second.content_hash != 0) {
      auto [lo, hi] = by_content_.equal_range(it->second.content_hash);
      for (auto b = lo; b != hi; ++b)
        if (b->second.get() == id) {
          by_content_.erase(b);
          break;
        }
    }
    bytes_ -= it->second.bytes;
    blocks_.erase(it);
  });
}

void PrefixCache::share_held_blocks_locked(engine::Snapshot& s) const {
  for_each_store(s, [&](model::RowStore& r) {
    r.replace_full_blocks([&](const std::shared_ptr<const model::RowStore::Block>& b) {
      auto [lo, hi] = by_content_.equal_range(content_hash(*b));
      for (auto it = lo; it != hi; ++it)
        if (it->second->size() == b->size() &&
            std::memcmp(it->second->data(), b->data(), b->size()) == 0)
          return it->second;
      return b;
    });
  });
}

void PrefixCache::insert_ram_locked(std::shared_ptr<const engine::Snapshot> s) {
  if (added_bytes_locked(*s) > opt_.ram_bytes) return;
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if (it->snap->tokens == s->tokens) {  // the same state again: refresh, keep one copy
      lru_.splice(lru_.begin(), lru_, it);
      return;
    }
  const uint64_t hash = PrefixHashes::of(s->tokens), bytes = snapshot_bytes(*s);
  hold_blocks_locked(*s);
  unshared_bytes_ += bytes;
  lru_.push_front(Entry{std::move(s), hash, bytes});
  ++stats_.inserts;
  evict_locked();
}

void PrefixCache::evict_locked() {
  // From the least recently used end; a snapshot some request still holds stays (its memory
  // would not be freed anyway), so the budget can be exceeded while requests run.
  for (auto it = lru_.end(); bytes_ > opt_.ram_bytes && it != lru_.begin();) {
    --it;
    if (it->snap.use_count() > 1) continue;
    release_blocks_locked(*it->snap);
    unshared_bytes_ -= it->bytes;
    ++stats_.evictions;
    it = lru_.erase(it);
  }
}

void PrefixCache::flush_disk() {
  if (disk_) disk_->flush();
}

CacheStats PrefixCache::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  CacheStats s = stats_;
  s.entries = static_cast<int64_t>(lru_.size());
  s.bytes = bytes_;
  s.unshared_bytes = unshared_bytes_;
  if (disk_) s.disk = disk_->stats();
  return s;
}

}  // namespace dsv4::cache

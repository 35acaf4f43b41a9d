// Append-only rows of bytes (a layer's packed compressed KV entries or indexer keys: kv_pack.h) in
// blocks of kBlockRows rows, shared between copies: copying a RowStore (a snapshot of a sequence, a prefix-cache entry,
// the n choices of one prompt) shares every full block and copies only the partial last one, so
// snapshots of one prefix hold its rows once and memory grows with distinct content, not with the
// number of copies.
//
// Invariant: a full block is read-only and may be shared by any number of stores (and threads);
// a partial block belongs to exactly one store, which may append to it. Truncating back into a
// full block (a rolled-back speculative step) copies it first, since others may hold it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>


namespace dsv4::model {

class RowStore {
 public:
  static constexpr int64_t kBlockRows = 64;
  using Block = std::vector<uint8_t>;

  RowStore() = default;
  RowStore(const RowStore& o) { copy_from(o); }
  RowStore& operator=(const RowStore& o) {
    if (this != &o) copy_from(o);
    return *this;
  }
  RowStore(RowStore&&) noexcept = default;
  RowStore& operator=(RowStore&&) noexcept = default;

  // Empty, holding rows of `width` bytes from now on.
  void reset(int64_t width);
  int64_t width() const { return width_; }
  int64_t rows() const { return rows_; }
  bool empty() const { return rows_ == 0; }

  // A new last row (zeroed), writable until the next append, truncate or copy of this store.
  uint8_t* append();
  const uint8_t* row(int64_t r) const {
    return blocks_[static_cast<size_t>(r / kBlockRows)]->data() + (r % kBlockRows) * width_;
  }
  // Keeps the first `rows` rows (rows <= this->rows()).
  void truncate(int64_t rows);

  // All rows, contiguous (rows() x width() bytes), and the reverse (bytes.size() must be a
  // multiple of width()).
  std::vector<uint8_t> to_vector() const;
  void assign(std::span<const uint8_t> bytes);

  // Bytes this store's blocks reserve (shared blocks counted in full) and, per block, an identity
  // and its bytes: two stores that share a block report the same identity for it.
  size_t bytes_reserved() const;
  template <class F>
  void for_each_block(F&& f) const {
    for (const auto& b : blocks_) f(static_cast<const void*>(b.get()), b->capacity());
  }
  // Every full block, shared (the caller may keep it and hand it to another store's
  // replace_full_blocks).
  template <class F>
  void for_each_full_block(F&& f) const {
    for (size_t i = 0; i < full_blocks(); ++i) f(std::shared_ptr<const Block>(blocks_[i]));
  }
  // Replaces each full block b by f(b), which must hold exactly b's values (the same block, or an
  // equal one another store holds): a store decoded from disk then shares rows with those in RAM.
  template <class F>
  void replace_full_blocks(F&& f) {
    for (size_t i = 0; i < full_blocks(); ++i) {
      std::shared_ptr<const Block> r = f(std::shared_ptr<const Block>(blocks_[i]));
      // Full blocks are never written (the invariant above), so holding them non-const is safe.
      if (r && r != blocks_[i] && same_bits(*r, *blocks_[i])) blocks_[i] = std::const_pointer_cast<Block>(r);
    }
  }

 private:
  static bool same_bits(const Block& a, const Block& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
  }
  size_t full_blocks() const { return static_cast<size_t>(rows_ / kBlockRows); }
  void copy_from(const RowStore& o);
  bool tail_full() const { return rows_ % kBlockRows == 0; }

  std::vector<std::shared_ptr<Block>> blocks_;
  int64_t width_ = 0, rows_ = 0;
};

// Bitwise equal content (the blocks need not be shared).
bool same_rows(const RowStore& a, const RowStore& b);

}  // namespace dsv4::model

#include "model/row_store.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace dsv4::model {

void RowStore::reset(int64_t width) {
  assert(width >= 0);
  blocks_.clear();
  width_ = width;
  rows_ = 0;
}

uint8_t* RowStore::append() {
  assert(width_ > 0);
  if (tail_full()) {  // also when there is no block yet
    blocks_.push_back(std::make_shared<Block>());
  }
  Block& tail = *blocks_.back();
  // Capacity grows by 16 rows (at least 1/8) up to the block: a short sequence stays small and a
  // full block holds exactly kBlockRows rows (model/memory_plan.h counts the slack).
  const size_t need = tail.size() + static_cast<size_t>(width_);
  if (need > tail.capacity()) {
    const size_t w = static_cast<size_t>(width_), full = static_cast<size_t>(kBlockRows) * w;
    tail.reserve(std::min(full, std::max(need, tail.capacity() + std::max(tail.capacity() / 8, 16 * w))));
  }
  tail.resize(need);
  ++rows_;
  return tail.data() + tail.size() - static_cast<size_t>(width_);
}

void RowStore::truncate(int64_t rows) {
  assert(rows >= 0 && rows <= rows_);
  if (rows == rows_) return;
  const size_t keep_blocks = static_cast<size_t>((rows + kBlockRows - 1) / kBlockRows);
  const bool tail_was_full = blocks_.size() > keep_blocks || tail_full();
  blocks_.resize(keep_blocks);
  rows_ = rows;
  if (rows_ % kBlockRows == 0) return;  // the new last block is full: stays shared, read-only
  const size_t keep_values = static_cast<size_t>(rows_ % kBlockRows) * static_cast<size_t>(width_);
  if (tail_was_full) {
    // The new last block was full before, so other stores may hold it: copy what stays.
    const Block& old = *blocks_.back();
    blocks_.back() = std::make_shared<Block>(old.begin(), old.begin() + static_cast<std::ptrdiff_t>(keep_values));
  } else {
    blocks_.back()->resize(keep_values);
  }
}

std::vector<uint8_t> RowStore::to_vector() const {
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(rows_ * width_));
  for (const auto& b : blocks_) out.insert(out.end(), b->begin(), b->end());
  return out;
}

void RowStore::assign(std::span<const uint8_t> values) {
  assert(width_ > 0 ? values.size() % static_cast<size_t>(width_) == 0 : values.empty());
  blocks_.clear();
  rows_ = width_ > 0 ? static_cast<int64_t>(values.size()) / width_ : 0;
  const size_t per_block = static_cast<size_t>(kBlockRows * width_);
  for (size_t at = 0; at < values.size(); at += per_block) {
    const size_t n = std::min(per_block, values.size() - at);
    blocks_.push_back(std::make_shared<Block>(values.begin() + static_cast<std::ptrdiff_t>(at),
                                              values.begin() + static_cast<std::ptrdiff_t>(at + n)));
  }
}

size_t RowStore::bytes_reserved() const {
  size_t b = 0;
  for_each_block([&](const void*, size_t n) { b += n; });
  return b;
}

void RowStore::copy_from(const RowStore& o) {
  width_ = o.width_;
  rows_ = o.rows_;
  blocks_ = o.blocks_;
  // The partial last block is the one a store writes to: each copy gets its own.
  if (!blocks_.empty() && !tail_full()) blocks_.back() = std::make_shared<Block>(*o.blocks_.back());
}

bool same_rows(const RowStore& a, const RowStore& b) {
  if (a.width() != b.width() || a.rows() != b.rows()) return false;
  for (int64_t r = 0; r < a.rows(); ++r)
    if (a.row(r) != b.row(r) && std::memcmp(a.row(r), b.row(r), static_cast<size_t>(a.width())) != 0)
      return false;
  return true;
}

}  // namespace dsv4::model

#include "base/profile.h"

#include <map>
#include <mutex>
#include <utility>

namespace dsv4::profile {
namespace {

struct Slot {
  int parent = -1;
  const char* name = nullptr;
  double seconds = 0;
  int64_t calls = 0;
};

struct Table {
  std::mutex mu;
  std::vector<Slot> slots;
  std::map<std::pair<int, const char*>, int> index;  // (parent slot, name literal) -> slot
};

Table& table() {
  static Table t;
  return t;
}

thread_local int t_current = -1;  // innermost open scope of this thread

}  // namespace

std::atomic<bool> g_enabled{false};

void set_enabled(bool on) { g_enabled.store(on, std::memory_order_relaxed); }

void reset() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.slots.clear();
  t.index.clear();
  t_current = -1;
}

namespace detail {

int enter(const char* name) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  auto [it, added] = t.index.try_emplace({t_current, name}, static_cast<int>(t.slots.size()));
  if (added) t.slots.push_back({t_current, name, 0, 0});
  t_current = it->second;
  return it->second;
}

void leave(int slot, double seconds) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (slot >= static_cast<int>(t.slots.size())) return;  // reset() while the scope was open
  Slot& s = t.slots[slot];
  s.seconds += seconds;
  ++s.calls;
  t_current = s.parent;
}

}  // namespace detail

std::vector<Entry> snapshot() {
  Table& t = table();
  std::map<std::string, Entry> merged;
  std::lock_guard<std::mutex> lock(t.mu);
  for (const Slot& s : t.slots) {
    Entry e;
    e.name = s.name;
    e.path = s.name;
    for (int p = s.parent; p >= 0; p = t.slots[p].parent) {
      e.path = std::string(t.slots[p].name) + "/" + e.path;
      ++e.depth;
    }
    e.seconds = s.seconds;
    e.calls = s.calls;
    auto [it, added] = merged.try_emplace(e.path, e);
    if (!added) {
      it->second.seconds += s.seconds;
      it->second.calls += s.calls;
    }
  }
  std::vector<Entry> out;
  for (auto& [path, e] : merged) out.push_back(std::move(e));
  return out;
}

}  // namespace dsv4::profile

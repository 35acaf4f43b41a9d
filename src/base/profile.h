// A tiny per-op profiler: named scoped timers that accumulate wall time and call counts into a
// process-wide table. Off by default; while off a scope costs one relaxed atomic load and no clock
// read, so instrumented code pays ~nothing on the normal path. `dsv4 bench` turns it on.
//
// Scopes nest: each figure is recorded under its path of enclosing scopes on the same thread
// ("moe/moe.routed_experts/linear.fp4"), so one linear kind is told apart inside the MoE and
// outside it, and a parent's time minus its children's is its own work. Figures are inclusive.
// Entering and leaving a scope take a mutex each: meant for scopes of microseconds and more, entered
// from one engine thread (or a few); do not put one inside a kernel's inner loop or a thread pool's
// work items (a worker thread's scopes would start a path of their own).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dsv4::profile {

extern std::atomic<bool> g_enabled;

inline bool enabled() { return g_enabled.load(std::memory_order_relaxed); }
void set_enabled(bool on);
void reset();  // drops every accumulated figure (call while no scope is open)

struct Entry {
  std::string path;  // "a/b/c": names of the enclosing scopes, outermost first
  std::string name;  // the last component
  int depth = 0;     // 0 for a scope with no enclosing scope
  double seconds = 0;
  int64_t calls = 0;
};
// Sorted by path, merged across call sites with the same names.
std::vector<Entry> snapshot();

namespace detail {
int enter(const char* name);  // returns the slot of (current path, name) and makes it current
void leave(int slot, double seconds);
}  // namespace detail

class Scope {
 public:
  explicit Scope(const char* name) : slot_(enabled() ? detail::enter(name) : -1) {
    if (slot_ >= 0) t0_ = std::chrono::steady_clock::now();
  }
  ~Scope() {
    if (slot_ >= 0) detail::leave(slot_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  int slot_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace dsv4::profile

#define DSV4_PROFILE_CAT_INNER(a, b) a##b
#define DSV4_PROFILE_CAT(a, b) DSV4_PROFILE_CAT_INNER(a, b)
// Times the rest of the enclosing block under `name` (a string literal) when profiling is on.
#define DSV4_PROFILE_SCOPE(name) ::dsv4::profile::Scope DSV4_PROFILE_CAT(dsv4_profile_scope_, __LINE__)(name)

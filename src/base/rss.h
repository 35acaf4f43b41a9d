// The process's resident memory (Linux /proc/self/statm), for benchmarks and the tests that check
// memory against the planner's formulas.
#pragma once
#include <cstdint>

namespace dsv4 {

// Resident bytes now; 0 where /proc is unavailable.
int64_t resident_bytes();
// Returns freed heap memory to the OS (glibc malloc_trim), so a later resident_bytes() difference
// measures what was allocated in between rather than reuse of freed pages.
void release_free_heap();

}  // namespace dsv4

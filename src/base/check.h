// Invariant checks for programmer errors (never for user input: that gets a Status).
#pragma once
#include <cstdio>
#include <cstdlib>

#define DSV4_CHECK(cond)                                                             \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

#ifdef NDEBUG
#define DSV4_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define DSV4_DCHECK(cond) DSV4_CHECK(cond)
#endif

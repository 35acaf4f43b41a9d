#!/usr/bin/env bash
# Builds the threaded code's tests (engine, thread pool, trainer) with ThreadSanitizer into
# ${BUILD_DIR:-build-tsan} and runs them. Any data race report fails the run.
#   scripts/tsan.sh                 # engine + base + train tests
#   scripts/tsan.sh -R Engine       # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-tsan}
JOBS=${JOBS:-$(nproc)}

cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DDSV4_SANITIZE=thread >/dev/null
cmake --build "$BUILD_DIR" -j"$JOBS" --target dsv4_engine_test dsv4_base_test dsv4_train_test

export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" --timeout 3600 -L 'engine|base|train' "$@"

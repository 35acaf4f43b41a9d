#!/usr/bin/env bash
# Builds the GGUF header fuzz target with clang libFuzzer + ASan/UBSan and runs it.
#   scripts/gguf_fuzz.sh [SECONDS]   (default 300)
# New crashers land in build-fuzz/; add minimized ones to fuzz/corpus/gguf_header/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DDSV4_FUZZ=ON -DDSV4_SANITIZE=address,undefined \
  -DDSV4_BUILD_TESTS=OFF > /dev/null
ninja -C build-fuzz -j2 gguf_header_fuzz
work="$(mktemp -d)"
cp fuzz/corpus/gguf_header/* "$work"/
./build-fuzz/fuzz/gguf_header_fuzz "$work" -max_total_time="$secs" -max_len=4096 -artifact_prefix=build-fuzz/ \
  -print_final_stats=1

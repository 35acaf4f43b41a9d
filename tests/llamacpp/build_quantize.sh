#!/usr/bin/env bash
# Builds quantize.c against the prebuilt libllama of node_modules, with the headers of the llama.cpp
# source node-llama-cpp ships (the git bundle: include/llama.h and ggml/include, same commit).
# Usage: build_quantize.sh OUT_EXE
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out=$1
lib="$here/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
bundle="$here/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[ -f "$bundle" ] && [ -d "$lib" ] || { echo "FAIL: run 'cd tests/llamacpp && npm ci --omit=optional'"; exit 1; }
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
git clone -q --bare "$bundle" "$w/src.git"
mkdir "$w/inc"
git --git-dir="$w/src.git" archive HEAD include ggml/include | tar -x -C "$w/inc"
"${CC:-cc}" -O1 -I"$w/inc/include" -I"$w/inc/ggml/include" "$here/quantize.c" -o "$out" \
  "$lib"/libllama.v*.so -Wl,-rpath,"$lib"

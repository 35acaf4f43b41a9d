#!/usr/bin/env bash
# The README's second command: install everything the tests need, build, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
DSV4_WITH_TEST_TOOLS=1 bash scripts/install_deps.sh
if [ -f tests/js/package.json ]; then (cd tests/js && npm ci --no-audit --no-fund --loglevel=error); fi
if [ -f tests/clients/package.json ]; then (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error); fi
if [ -f tests/browser/package.json ]; then (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error); fi
# llama.cpp as node-llama-cpp ships it prebuilt (CPU binaries only: no CUDA / Vulkan packages).
if [ -f tests/llamacpp/package.json ]; then (cd tests/llamacpp && npm ci --omit=optional --no-audit --no-fund --loglevel=error); fi
bash scripts/build.sh
bash scripts/make_default_model.sh
bash scripts/make_corpus.sh  # the held-out text of default_model.quality
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1200

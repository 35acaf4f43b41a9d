#!/usr/bin/env bash
# Parity of dsv4's ggml decoders and linear_ggml with llama.cpp's own ggml (the prebuilt CPU
# library that `npm ci --omit=optional` installs into tests/llamacpp/node_modules):
#   1. builds ggml_ref.c with cc against libggml-base.so and writes the fixture into a temp dir;
#   2. runs GgmlRefParity.* of dsv4_tensor_test (decoders bitwise) and of dsv4_kernels_test
#      (linear_ggml within the summation bound) with DSV4_GGML_REF_FIXTURE pointing at it.
# Usage: ggml_ref_test.sh PATH/TO/dsv4_tensor_test PATH/TO/dsv4_kernels_test
# Stops by itself: every step runs under `timeout`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $# -ne 2 ]]; then
  echo "usage: $0 DSV4_TENSOR_TEST DSV4_KERNELS_TEST" >&2
  exit 2
fi
tensor_test="$1"
kernels_test="$2"
libdir="$here/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
if [[ ! -d "$here/node_modules" ]]; then
  echo "FAIL: $here/node_modules is missing: run 'cd tests/llamacpp && npm ci --omit=optional' (the test set-up does)" >&2
  exit 1
fi
if [[ ! -f "$libdir/libggml-base.so" ]]; then
  echo "FAIL: $libdir/libggml-base.so not found: reinstall with 'cd tests/llamacpp && npm ci --omit=optional'" >&2
  exit 1
fi
for exe in "$tensor_test" "$kernels_test"; do
  [[ -x "$exe" ]] || { echo "FAIL: test binary $exe not found (build dsv4_tensor_test dsv4_kernels_test)" >&2; exit 1; }
done
cc="${CC:-cc}"
command -v "$cc" >/dev/null || { echo "FAIL: no C compiler ($cc) to build ggml_ref.c" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
timeout 120 "$cc" -std=c11 -O1 -o "$tmp/ggml_ref" "$here/ggml_ref.c" -L"$libdir" -lggml-base \
  -Wl,-rpath,"$libdir" -lm
timeout 60 "$tmp/ggml_ref" "$tmp/fixture.bin"
export DSV4_GGML_REF_FIXTURE="$tmp/fixture.bin"
# --gtest_fail_if_no_test... is not in every gtest: check that the tests ran and none skipped.
for exe in "$tensor_test" "$kernels_test"; do
  out="$(timeout 300 "$exe" --gtest_filter='GgmlRefParity.*' 2>&1)" || { echo "$out"; echo "FAIL: $exe" >&2; exit 1; }
  echo "$out"
  grep -q '^\[  PASSED  \] [1-9]' <<<"$out" || { echo "FAIL: no GgmlRefParity test ran in $exe" >&2; exit 1; }
  if grep -q '^\[  SKIPPED \]' <<<"$out"; then echo "FAIL: GgmlRefParity skipped in $exe" >&2; exit 1; fi
done
echo "ggml_ref_test: PASS"

#!/usr/bin/env bash
# Installs the Debian packages dsv4 builds with (idempotent; skips apt when all are present).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config git
      nlohmann-json3-dev libcli11-dev libfmt-dev libpcre2-dev libhwy-dev libcpp-httplib-dev
      libxxhash-dev libzstd-dev libgtest-dev libgmock-dev libbenchmark-dev libdnnl-dev curl
      libopenmpi-dev openmpi-bin
      bible-kjv)  # scripts/make_corpus.sh: the public-domain KJV text the trainer's corpus is made from
if [ "${DSV4_WITH_TEST_TOOLS:-0}" = 1 ]; then
  PKGS+=(clang libclang-rt-dev prometheus chromium)
  # Node.js + npm run the tokenizer parity tests. Use whatever node the machine has (the image may
  # ship a newer one outside Debian's packages); only install Debian's when there is none.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS+=(nodejs npm)
  fi
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

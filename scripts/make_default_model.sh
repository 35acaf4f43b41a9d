#!/usr/bin/env bash
# Writes the built-in default model (models/default) from configs/default.json, if not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f models/default/model.safetensors.index.json ] || [ configs/default.json -nt models/default/config.json ]; then
  ./build/tools/dsv4 make-model --config configs/default.json --out models/default --seed 1
fi

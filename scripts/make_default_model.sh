#!/usr/bin/env bash
# The built-in default model (models/default) is committed: a small V4 trained by `dsv4 train` on
# the public-domain KJV (scripts/train_default_model.sh reproduces it bit for bit). This checks it
# is there and loads; set-up never trains. `--random` writes the old random-weight model instead
# (make-model from configs/default.json) into models/random-default, for tests of untrained weights.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--random" ]; then
  ./build/tools/dsv4 make-model --config configs/default.json --out models/random-default --seed 1
  exit 0
fi
if [ ! -f models/default/model.safetensors.index.json ] || [ ! -f models/default/tokenizer.json ]; then
  echo "make_default_model.sh: models/default is missing (it is committed: git checkout -- models/default;" \
       "or retrain it with scripts/train_default_model.sh)" >&2
  exit 1
fi
./build/tools/dsv4 info -m models/default >/dev/null

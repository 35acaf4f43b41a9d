#!/usr/bin/env bash
# Writes the built-in default model (models/default) from configs/default.json, if not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f models/default/model.safetensors.index.json ] || [ configs/default.json -nt models/default/config.json ]; then
  ./build/tools/dsv4 make-model --config configs/default.json --out models/default --seed 1
fi
# Its tokenizer: byte-level BPE trained on the committed corpus, vocab_size from the config.
if [ ! -f models/default/tokenizer.json ] || [ configs/default.json -nt models/default/tokenizer.json ] \
   || [ configs/tokenizer_corpus.txt -nt models/default/tokenizer.json ]; then
  mkdir -p models/default
  ./build/tools/dsv4 make-tokenizer --config configs/default.json --corpus configs/tokenizer_corpus.txt \
    --out models/default/tokenizer.json
fi

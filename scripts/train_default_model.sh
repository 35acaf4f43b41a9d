#!/usr/bin/env bash
# Reproduces the committed trained default model (models/default) bit for bit: the public-domain
# KJV corpus (scripts/make_corpus.sh), a 1024-id byte-level BPE tokenizer made on its training
# part, then `dsv4 train` on configs/default.json. Results depend on the seed and on the CPU's GEMM
# kernel (AVX2 + FMA here; a CPU without them rounds differently), not on the thread count or timing.
# About 45-60 minutes on 2 cores; set-up never runs this (the result is committed).
# Usage: scripts/train_default_model.sh [OUT_DIR]   (default build-train-default; resumable)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-train-default}
bash scripts/make_corpus.sh
mkdir -p "$OUT"
./build/tools/dsv4 make-tokenizer --config configs/default.json --corpus data/corpus/train.txt --out "$OUT/tokenizer.json"
RESUME=()
[ -f "$OUT/train_state.bin" ] && RESUME=(--resume)
./build/tools/dsv4 train --config configs/default.json --tokenizer "$OUT/tokenizer.json" \
  --data data/corpus/train.txt --heldout data/corpus/heldout.txt --out "$OUT" \
  --steps 1000 --batch 8 --seq 128 --lr 3e-3 --warmup 50 --min-lr-ratio 0.1 --weight-decay 0.1 --clip 1.0 \
  --mtp-weight 0.3 --seed 1 --eval-every 50 --eval-tokens 16384 --save-every 50 --log-every 10 "${RESUME[@]}"

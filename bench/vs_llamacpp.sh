#!/usr/bin/env bash
# dsv4 vs llama.cpp on the same deepseek4 GGUF files, on this machine, in one run (not a test).
#   1. builds llama-bench once from the llama.cpp source node-llama-cpp ships
#      (tests/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle) into $LLAMA_CACHE;
#   2. writes the flash-slice (V4-Flash at real size, $LAYERS layers) unless $SLICE exists, and
#      converts it to GGUF: MXFP4 experts with q8_0 linears (llama.cpp's converter's choice) and
#      with bf16 linears (exact);
#   3. runs `llama-bench -p $PROMPT -n $GEN -t $THREADS` and `dsv4 bench --prompt $PROMPT --gen $GEN`
#      on each file and prints prefill / decode tokens/s, dsv4 / llama.cpp ratios, and the fraction
#      of this machine's measured read bandwidth each decode reaches (active weight bytes per token,
#      from the file, x tokens/s / the bandwidth dsv4 bench measures).
# Env: SLICE (/work/slices/flash2), LAYERS (2), GGUF_DIR (/work/slices), LLAMA_CACHE
# (~/.cache/dsv4-llamacpp), PROMPT (512), GEN (128), THREADS (2), REPS (1), TYPES ("q8_0 bf16").
set -euo pipefail
cd "$(dirname "$0")/.."
DSV4=${DSV4:-./build/tools/dsv4}
SLICE=${SLICE:-/work/slices/flash2} LAYERS=${LAYERS:-2} GGUF_DIR=${GGUF_DIR:-/work/slices}
LLAMA_CACHE=${LLAMA_CACHE:-$HOME/.cache/dsv4-llamacpp}
PROMPT=${PROMPT:-512} GEN=${GEN:-128} THREADS=${THREADS:-2} REPS=${REPS:-1} TYPES=${TYPES:-"q8_0 bf16"}
BUNDLE=tests/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle
LB=$LLAMA_CACHE/build/bin/llama-bench
if [ ! -x "$LB" ]; then
  [ -f "$BUNDLE" ] || { echo "no $BUNDLE: run 'cd tests/llamacpp && npm ci --omit=optional' first"; exit 1; }
  rm -rf "$LLAMA_CACHE/src"; mkdir -p "$LLAMA_CACHE"
  git clone -q "$BUNDLE" "$LLAMA_CACHE/src"
  cmake -S "$LLAMA_CACHE/src" -B "$LLAMA_CACHE/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$LLAMA_CACHE/build" --target llama-bench -j"$(nproc)"
fi
[ -f "$SLICE/config.json" ] || "$DSV4" make-model --preset flash-slice --layers "$LAYERS" --out "$SLICE" --seed 1
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
num() { grep -o "$1" "$2" | head -1 | grep -oE '[0-9]+(\.[0-9]+)?' | tail -1; }
printf '%-34s | %9s %9s %6s | %9s %9s %6s | %8s %8s\n' file "llama pp" "dsv4 pp" ratio "llama tg" "dsv4 tg" ratio \
  "llama bw" "dsv4 bw"
for type in $TYPES; do
  F=$GGUF_DIR/$(basename "$SLICE")-$type.gguf
  [ -f "$F" ] || "$DSV4" convert -m "$SLICE" --out "$F" --type "$type" >/dev/null
  "$LB" -m "$F" -p "$PROMPT" -n "$GEN" -t "$THREADS" -r "$REPS" -o json >"$T/lb.json" 2>"$T/lb.err" \
    || { cat "$T/lb.err"; exit 1; }
  lpp=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print([x['avg_ts'] for x in r if x['n_prompt']>0][0])" "$T/lb.json")
  ltg=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print([x['avg_ts'] for x in r if x['n_gen']>0][0])" "$T/lb.json")
  "$DSV4" bench -m "$F" --prompt "$PROMPT" --gen "$GEN" --threads "$THREADS" --no-profile >"$T/db" 2>&1 \
    || { cat "$T/db"; exit 1; }
  dpp=$(grep -oE 'prefill: [0-9]+ tokens in [0-9.]+ s = [0-9.]+ tok/s' "$T/db" | grep -oE '[0-9.]+ tok/s' | grep -oE '^[0-9.]+')
  dtg=$(grep -oE 'decode: [0-9]+ tokens in [0-9.]+ s = [0-9.]+ tok/s' "$T/db" | grep -oE '[0-9.]+ tok/s' | grep -oE '^[0-9.]+')
  bw=$(grep -oE 'memory: read [0-9.]+ GB/s' "$T/db" | grep -oE '[0-9.]+' | head -1)
  # llama.cpp reads the file's bytes (bf16 linears at 2 bytes); dsv4 what it runs (FP8 again for
  # a lossless bf16 file): its bench prints that fraction itself.
  fb=$(python3 bench/gguf_active_bytes.py "$F")
  lfrac=$(python3 -c "import sys; t,b,w=map(float,sys.argv[1:]); print(f'{t*b/(w*1e9):.3f}')" "$ltg" "$fb" "$bw")
  dfrac=$(grep -oE 'decode_bw_fraction=[0-9.e-]+' "$T/db" | cut -d= -f2)
  printf '%-34s | %9.2f %9.2f %6.2f | %9.2f %9.2f %6.2f | %8s %8.3f\n' "$(basename "$F")" "$lpp" "$dpp" \
    "$(python3 -c "print($dpp/$lpp)")" "$ltg" "$dtg" "$(python3 -c "print($dtg/$ltg)")" "$lfrac" "$dfrac"
  cp "$T/db" "$T/db-$type"; cp "$T/lb.json" "$T/lb-$type.json"
done
echo "(pp = prefill of $PROMPT tokens, tg = decode of $GEN tokens, tokens/s at $THREADS threads; bw = decode tok/s x"
echo " weight bytes each engine reads per token / the read bandwidth dsv4 bench measured: ${bw:-?} GB/s)"

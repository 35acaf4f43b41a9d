#!/usr/bin/env bash
# dsv4 and llama.cpp (node-llama-cpp's prebuilt CPU library) on the very same deepseek4 GGUF:
# a golden checkpoint converted with `dsv4 convert --type TYPE` (bf16, q8_0, f32) or, for q6_k,
# q4_k_m and q2_k, converted to bf16 and then quantized by llama.cpp's own quantizer (the
# prebuilt libllama's llama_model_quantize: quantize.c), teacher-forced on N fixed
# pseudo-random token ids; compare.mjs reports top-1 agreement and the relative RMS of the
# probabilities and fails below MIN_TOP1 / above MAX_REL_RMS.
# Usage: compare_test.sh DSV4 CHECKPOINT TYPE MIN_TOP1 MIN_TOP1_CLEAR MAX_REL_RMS [N]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DSV4=$1 CKPT=$2 TYPE=$3 MIN_TOP1=$4 MIN_TOP1_CLEAR=$5 MAX_REL_RMS=$6 N=${7:-300}
if [[ ! -d "$here/node_modules/node-llama-cpp" ]]; then
  echo "FAIL: $here/node_modules is missing: run 'cd tests/llamacpp && npm ci --omit=optional' (scripts/test.sh does)" >&2
  exit 1
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
V=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['vocab_size'])" "$CKPT")
# Ids 2.. (BOS first), a fixed LCG so both engines see the same sequence on every run.
python3 -c "
n, v = $N, $V
x, ids = 12345, [0]
while len(ids) < n:
    x = (x * 1103515245 + 12345) % 2**31
    ids.append(2 + x % (v - 2))
print(','.join(map(str, ids)))" >"$T/tokens.txt"
case "$TYPE" in
  bf16|q8_0|f32)
    timeout 300 "$DSV4" convert -m "$CKPT" --out "$T/m.gguf" --type "$TYPE" >"$T/convert.log" 2>&1 \
      || { cat "$T/convert.log"; exit 1; } ;;
  q6_k|q4_k_m|q2_k)  # a community-style file: the exact bf16 conversion through llama.cpp's quantizer
    ftype=$(case "$TYPE" in q6_k) echo 18;; q4_k_m) echo 15;; q2_k) echo 10;; esac)
    timeout 300 "$DSV4" convert -m "$CKPT" --out "$T/bf16.gguf" --type bf16 >"$T/convert.log" 2>&1 \
      || { cat "$T/convert.log"; exit 1; }
    timeout 300 bash "$here/build_quantize.sh" "$T/quantize" >"$T/build.log" 2>&1 || { cat "$T/build.log"; exit 1; }
    timeout 300 "$T/quantize" "$T/bf16.gguf" "$T/m.gguf" "$ftype" >"$T/quantize.log" 2>&1 \
      || { tail -5 "$T/quantize.log"; exit 1; }
    echo "llama.cpp quantized to $TYPE: $(grep -oE 'converting to [a-z0-9_]+' "$T/quantize.log" | sort | uniq -c | tr -s ' ' | paste -sd,)" ;;
  *) echo "unknown type $TYPE"; exit 2 ;;
esac
timeout 300 "$DSV4" score -m "$T/m.gguf" --tokens-file "$T/tokens.txt" --logits-out "$T/dsv4.f32" || exit 1
cd "$here"
timeout 600 node compare.mjs --gguf "$T/m.gguf" --tokens "$T/tokens.txt" --dsv4-logits "$T/dsv4.f32" \
  --min-top1 "$MIN_TOP1" --min-top1-clear "$MIN_TOP1_CLEAR" --max-rel-rms "$MAX_REL_RMS"

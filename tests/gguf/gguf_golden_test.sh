#!/usr/bin/env bash
# A golden checkpoint converted losslessly to GGUF (`dsv4 convert --type bf16`: FP8 linears as
# bf16, experts as MXFP4) must run exactly like the checkpoint directory:
#   1. `dsv4 golden -m FILE.gguf` passes against DeepSeek's reference outputs (the MTP case is
#      skipped: a GGUF holds no MTP block);
#   2. every logits row of a batched, sampled, chunked run is bitwise the directory's (cmp);
#   3. the q8_0 and f32 conversions load and generate (q8_0 is lossy: compared with llama.cpp in
#      tests/llamacpp, not here).
# Usage: gguf_golden_test.sh DSV4 MANIFEST
set -euo pipefail
DSV4=$1 MANIFEST=$2
CKPT=$(dirname "$MANIFEST")/checkpoint
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$DSV4" convert -m "$CKPT" --out "$T/m.gguf" --type bf16 >"$T/convert.log" 2>&1 || { cat "$T/convert.log"; exit 1; }
cat "$T/convert.log"
timeout 900 "$DSV4" golden --manifest "$MANIFEST" -m "$T/m.gguf" >"$T/golden.log" 2>&1 || true
if ! grep -q "golden: PASS" "$T/golden.log"; then echo "FAIL golden on the GGUF"; cat "$T/golden.log"; exit 1; fi
echo "ok   golden on the GGUF: $(grep -c '^ok' "$T/golden.log" || true) ok lines"
ARGS=(run --tokens 5,9,33,2,17,4,8,21,3 -n 10 --copies 3 --temp 0.8 --seed 7 --chunk 4 -q --no-mtp)
"$DSV4" "${ARGS[@]}" -m "$CKPT" --logits-out "$T/dir.logits" >"$T/dir.log" 2>&1 || { cat "$T/dir.log"; exit 1; }
"$DSV4" "${ARGS[@]}" -m "$T/m.gguf" --logits-out "$T/gguf.logits" >"$T/gguf.log" 2>&1 || { cat "$T/gguf.log"; exit 1; }
if ! cmp -s "$T/dir.logits" "$T/gguf.logits"; then echo "FAIL logits of the GGUF differ from the directory's"; exit 1; fi
echo "ok   logits bitwise identical ($(stat -c %s "$T/gguf.logits") bytes)"
for type in q8_0 f32; do
  "$DSV4" convert -m "$CKPT" --out "$T/$type.gguf" --type "$type" >/dev/null 2>&1
  "$DSV4" run -m "$T/$type.gguf" --tokens 5,9,33,2 -n 6 --ignore-eos >"$T/$type.log" 2>&1 || { cat "$T/$type.log"; exit 1; }
  grep -q "tokens: " "$T/$type.log" || { echo "FAIL $type: no tokens"; cat "$T/$type.log"; exit 1; }
  "$DSV4" info -m "$T/$type.gguf" >"$T/$type.info" 2>&1 || { cat "$T/$type.info"; exit 1; }
  grep -q "matches the schema of its config" "$T/$type.info" || { echo "FAIL $type: info"; cat "$T/$type.info"; exit 1; }
  echo "ok   $type GGUF ($(stat -c %s "$T/$type.gguf") bytes) generates"
done

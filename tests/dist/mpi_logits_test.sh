#!/usr/bin/env bash
# Every logits row a batched, sampled, MTP-speculated run draws from, under mpirun with 1..4 ranks
# in several pipeline / expert layouts, must be bitwise the single process's (cmp of the files).
# Usage: mpi_logits_test.sh DSV4 MPIRUN CHECKPOINT
set -euo pipefail
DSV4=$1 MPIRUN=$2 CKPT=$3
source "$(dirname "$0")/mpi_env.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
ARGS=(run -m "$CKPT" --tokens 5,9,33,2,17,4,8,21,3 -n 10 --copies 3 --temp 0.8 --seed 7 --chunk 4 -q --dist-timeout 60)
"$DSV4" "${ARGS[@]}" --logits-out "$T/one" >"$T/one.log" 2>&1 || { cat "$T/one.log"; exit 1; }
grep -q "mtp: drafted [1-9]" "$T/one.log" || { echo "MTP did not draft"; cat "$T/one.log"; exit 1; }
LAYERS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['num_hidden_layers'])" "$CKPT")
fail=0
run_layout() {  # np, then dist flags
  local np=$1; shift
  local name="np$np$(echo "$*" | tr -d ' -')"
  rm -f "$T/$name"
  if ! timeout 300 "$MPIRUN" --oversubscribe -np "$np" "$DSV4" "${ARGS[@]}" "$@" --logits-out "$T/$name" >"$T/$name.log" 2>&1; then
    echo "FAIL $name: exit status"; cat "$T/$name.log"; fail=1; return
  fi
  if cmp -s "$T/one" "$T/$name"; then echo "ok   $name ($(stat -c %s "$T/$name") bytes identical)"
  else echo "FAIL $name: logits differ from one process"; fail=1; fi
}
run_layout 1 --pp 1
run_layout 2 --pp 2
run_layout 2 --pp 2 --pp-microbatches 1
run_layout 3 --pp 3
run_layout 4 --pp 4
run_layout 2 --ep 2
run_layout 3 --ep 3
run_layout 4 --pp 2 --ep 2
# A hand-made uneven split: first stage one layer, the rest on the second.
run_layout 2 --pp 2 --pp-split "1,$((LAYERS - 1))"
exit $fail

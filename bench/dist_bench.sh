#!/usr/bin/env bash
# Distributed inference on this machine: for 1, 2 and 4 ranks (pipeline, expert and combined
# layouts), prefill and decode tokens/s of one stream (`dsv4 bench`) and of a batch of
# sequences (`dsv4 run --copies`, where micro-batching overlaps the stages), with the bytes sent
# per token fed against the floor the model's shapes require. Not a test (no assertions).
#   bench/dist_bench.sh [MODEL_DIR...]      (default: the flash slice and the default model)
# On one machine the ranks share its cores and memory bandwidth, so this measures what the
# machinery costs, not a speed-up.
set -euo pipefail
cd "$(dirname "$0")/.."
DSV4=${DSV4:-./build/tools/dsv4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(/work/slices/flash2 models/default)
PROMPT=${PROMPT:-64} GEN=${GEN:-16} COPIES=${COPIES:-4}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
field() { grep -o "$1" "$2" | head -1 | grep -o '[0-9.]*' | head -${3:-1} | tail -1; }
printf '%-22s %-30s %5s | %10s %10s | %10s %10s | %12s %12s\n' model layout ranks "1x prefill" "1x decode" \
  "${COPIES}x prefill" "${COPIES}x decode" "bytes/token" "floor"
for M in "${MODELS[@]}"; do
  [ -f "$M/config.json" ] || { echo "skip $M: no config.json"; continue; }
  L=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['num_hidden_layers'])" "$M")
  V=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['vocab_size'])" "$M")
  toks=$(python3 -c "print(','.join(str(2 + (i * 7919) % ($V - 2)) for i in range($PROMPT)))")
  for layout in "1 -" "2 --pp 2" "2 --pp 2 --pp-microbatches 1" "2 --ep 2" "4 --ep 4" "4 --pp 2 --ep 2" "4 --pp 4"; do
    set -- $layout; np=$1; shift
    [ "$1" = "-" ] && set --
    if [ "${1:-}" = --pp ] && [ "$2" -gt "$L" ]; then continue; fi
    launch=("$DSV4"); [ "$np" -gt 1 ] && launch=(mpirun --oversubscribe --bind-to none -np "$np" "$DSV4")
    # One stream: dsv4 bench (each rank warms its own shards first).
    "${launch[@]}" bench -m "$M" --prompt "$PROMPT" --gen "$GEN" --no-profile --bw-mb 64 --reps 1 \
      --gemm-m 64 --gemm-n 256 --gemm-k 256 "$@" >"$T/bench" 2>&1 || { cat "$T/bench"; exit 1; }
    # A batch: COPIES sequences decoded together, no MTP (plain decode steps).
    "${launch[@]}" run -m "$M" --tokens "$toks" -n "$GEN" --copies "$COPIES" --ignore-eos --no-mtp -q --chunk 256 "$@" \
      >"$T/run" 2>&1 || { cat "$T/run"; exit 1; }
    bp=$(grep -o 'prefill: [0-9]* tokens in [0-9.]* s = [0-9.]* tok/s' "$T/bench" | grep -o '[0-9.]* tok/s' | grep -o '^[0-9.]*')
    bd=$(grep -o 'decode: [0-9]* tokens in [0-9.]* s = [0-9.]* tok/s' "$T/bench" | grep -o '[0-9.]* tok/s' | grep -o '^[0-9.]*')
    # The run reports its first sequence's rates; the others advance in the same steps (prompts
    # one token shorter each), so the batch's aggregate is COPIES times that.
    rp=$(grep -o 'prefill: [0-9]* tokens in [0-9.]* s ([0-9.]* tok/s)' "$T/run" | grep -o '([0-9.]*' | tr -d '(')
    rd=$(grep -o 'decode: [0-9]* tokens in [0-9.]* s ([0-9.]* tok/s)' "$T/run" | grep -o '([0-9.]*' | tr -d '(')
    rp=$(python3 -c "print(f'{$rp * $COPIES:.1f}')") rd=$(python3 -c "print(f'{$rd * $COPIES:.1f}')")
    bpt=$(grep -o '[0-9]* bytes per token fed' "$T/run" | grep -o '^[0-9]*' || echo 0)
    fl=$(grep -o '(floor [0-9]*)' "$T/run" | grep -o '[0-9]*' || echo 0)
    printf '%-22s %-30s %5s | %10s %10s | %10s %10s | %12s %12s\n' "$(basename "$M")" "${*:-single}" "$np" \
      "$bp" "$bd" "$rp" "$rd" "$bpt" "$fl"
  done
done
echo "(tok/s; 1x = one stream via dsv4 bench, ${COPIES}x = $COPIES sequences batched via dsv4 run --copies, aggregate;"
echo " bytes/token = all ranks' sends over the batched run per token fed; floor = the HC state per hop"
echo " and the expert rows the shapes require; $(nproc) cores, $(grep -c processor /proc/cpuinfo) hardware threads)"

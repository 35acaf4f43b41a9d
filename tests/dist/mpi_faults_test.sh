#!/usr/bin/env bash
# Faults of a distributed run: a rank that hangs or dies ends the whole job with a message within
# a bounded time; mismatched or malformed launches are refused at start-up with a clear error.
# Usage: mpi_faults_test.sh DSV4 MPIRUN FLASH_CHECKPOINT PRO_CHECKPOINT
set -uo pipefail
DSV4=$1 MPIRUN=$2 F=$3 P=$4
source "$(dirname "$0")/mpi_env.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
RUN=(run --tokens 5,9,33 -n 4 -q)
LAYERS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['num_hidden_layers'])" "$F")
fail=0
# expect NAME SECONDS REGEX -- mpirun arguments: must exit non-zero within SECONDS, output matching REGEX
expect() {
  local name=$1 limit=$2 re=$3; shift 4
  local t0=$SECONDS
  timeout $((limit + 30)) "$MPIRUN" --oversubscribe "$@" >"$T/out" 2>&1
  local rc=$? dt=$((SECONDS - t0))
  if [ $rc = 0 ]; then echo "FAIL $name: exited 0"; fail=1
  elif [ $rc = 124 ]; then echo "FAIL $name: still running after $((limit + 30)) s"; fail=1
  elif [ $dt -gt "$limit" ]; then echo "FAIL $name: took $dt s (limit $limit)"; fail=1
  elif ! grep -Eq "$re" "$T/out"; then echo "FAIL $name: no message matching /$re/"; fail=1
  else echo "ok   $name: exit $rc after $dt s: $(grep -Em1 "$re" "$T/out")"; return; fi
  cat "$T/out"
}
expect "stage 1 hangs" 30 "rank 1 did not answer within 3 s" -- \
  -x DSV4_DIST_TEST_HANG=1 -np 2 "$DSV4" "${RUN[@]}" -m "$F" --pp 2 --dist-timeout 3
expect "expert member hangs" 30 "rank 1 did not answer within 3 s" -- \
  -x DSV4_DIST_TEST_HANG=1 -np 2 "$DSV4" "${RUN[@]}" -m "$F" --ep 2 --dist-timeout 3
expect "last stage hangs (pp 3)" 30 "did not answer within 3 s" -- \
  -x DSV4_DIST_TEST_HANG=2 -np 3 "$DSV4" "${RUN[@]}" -m "$F" --pp 3 --dist-timeout 3
expect "different checkpoints" 30 "rank 1 was launched differently from rank 0: config.json" -- \
  -np 1 "$DSV4" "${RUN[@]}" -m "$F" --pp 2 : -np 1 "$DSV4" "${RUN[@]}" -m "$P" --pp 2
expect "different --pp-split" 30 "rank 1 was launched differently from rank 0: --pp-split" -- \
  -np 1 "$DSV4" "${RUN[@]}" -m "$F" --pp 2 : -np 1 "$DSV4" "${RUN[@]}" -m "$F" --pp 2 --pp-split "1,$((LAYERS - 1))"
expect "more stages than layers" 30 "more pipeline stages than the checkpoint has layers \($LAYERS\)" -- \
  -np $((LAYERS + 1)) "$DSV4" "${RUN[@]}" -m "$F" --pp $((LAYERS + 1))
expect "split not summing to the layers" 30 "split" -- \
  -np 2 "$DSV4" "${RUN[@]}" -m "$F" --pp 2 --pp-split "1,1"
expect "ranks != pp x ep" 30 "mpirun started 3 ranks but --pp 2 x --ep 1 needs 2" -- \
  -np 3 "$DSV4" "${RUN[@]}" -m "$F" --pp 2
expect "mpirun without --pp/--ep" 30 "without --pp or --ep" -- \
  -np 2 "$DSV4" "${RUN[@]}" -m "$F"
# A rank killed mid-run (SIGKILL: no chance to say goodbye): mpirun must end the job.
cat >"$T/wrap.sh" <<'W'
#!/bin/sh
echo $$ > "$PIDDIR/pid.$OMPI_COMM_WORLD_RANK"
exec "$@"
W
chmod +x "$T/wrap.sh"
t0=$SECONDS
PIDDIR=$T timeout 90 "$MPIRUN" --oversubscribe -x PIDDIR -np 2 "$T/wrap.sh" "$DSV4" run --tokens 5,9,33 -n 100000 \
  --ignore-eos -q -m "$F" --pp 2 --dist-timeout 10 >"$T/out" 2>&1 &
job=$!
for _ in $(seq 100); do [ -s "$T/pid.1" ] && break; sleep 0.1; done
sleep 1
kill -9 "$(cat "$T/pid.1")"
wait $job; rc=$?; dt=$((SECONDS - t0))
if [ $rc != 0 ] && [ $rc != 124 ] && [ $dt -le 60 ] && grep -Eqi "signal 9|killed|did not answer" "$T/out"; then
  echo "ok   rank 1 killed: exit $rc after $dt s: $(grep -Eim1 "signal 9|killed|did not answer" "$T/out")"
else echo "FAIL rank 1 killed: exit $rc after $dt s"; cat "$T/out"; fail=1; fi
exit $fail

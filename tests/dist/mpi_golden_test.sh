#!/usr/bin/env bash
# `dsv4 golden` under mpirun in pipeline, expert and combined layouts: every check the single
# process makes must pass, and as many of them (no layer or case silently skipped).
# Usage: mpi_golden_test.sh DSV4 MPIRUN MANIFEST
set -euo pipefail
DSV4=$1 MPIRUN=$2 MANIFEST=$3
source "$(dirname "$0")/mpi_env.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$DSV4" golden --manifest "$MANIFEST" >"$T/one" 2>&1 || { cat "$T/one"; exit 1; }
want=$(grep -c '^ *ok' "$T/one" || true)
[ "$want" -gt 10 ] || { echo "single process: only $want ok lines"; cat "$T/one"; exit 1; }
fail=0
for layout in "2 --pp 2" "3 --pp 3" "2 --ep 2" "3 --ep 3" "4 --pp 2 --ep 2"; do
  set -- $layout; np=$1; shift
  if ! timeout 600 "$MPIRUN" --oversubscribe -np "$np" "$DSV4" golden --manifest "$MANIFEST" --dist-timeout 120 "$@" \
       >"$T/out" 2>&1; then
    echo "FAIL np $np $*: exit status"; tail -20 "$T/out"; fail=1; continue
  fi
  got=$(grep -c '^ *ok' "$T/out" || true)
  if grep -q "golden: PASS" "$T/out" && [ "$got" = "$want" ]; then echo "ok   np $np $*: PASS with $got checks"
  else echo "FAIL np $np $*: $got of $want checks"; tail -20 "$T/out"; fail=1; fi
done
exit $fail

#!/usr/bin/env bash
# `dsv4 serve` under mpirun (--pp 2 and --pp 2 --ep 2 on the default model): concurrent greedy
# chat completions must equal the single-process server's; SIGTERM to rank 0 drains it and stops
# every rank (exit 0), SIGTERM to mpirun (which forwards it) stops every rank too, in bounded time.
# Usage: mpi_serve_test.sh DSV4 MPIRUN MODEL_DIR
set -uo pipefail
DSV4=$1 MPIRUN=$2 MODEL=$3
source "$(dirname "$0")/mpi_env.sh"
T=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
start() {  # name, then the command; waits for "ready"; the port goes to $T/name.port
  local name=$1; shift
  "$@" --port 0 --model-name m --cache-ram 32M >"$T/$name.log" 2>&1 &
  pids+=($!)
  echo $! >"$T/$name.pid"
  for _ in $(seq 240); do
    grep -q "dsv4 serve: ready" "$T/$name.log" && break
    sleep 0.25
  done
  grep -o "listening on http://127.0.0.1:[0-9]*" "$T/$name.log" | grep -o "[0-9]*$" >"$T/$name.port"
}
ask() {  # port, prompt: the reply text and the token counts
  curl -s --max-time 120 "localhost:$1/v1/chat/completions" -H 'content-type: application/json' \
    -d "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}],\"max_tokens\":20,\"temperature\":0,\"thinking\":{\"type\":\"disabled\"}}" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(repr(d['choices'][0]['message']['content']), d['usage']['completion_tokens'])"
}
cat >"$T/wrap.sh" <<'W'
#!/bin/sh
echo $$ > "$PIDDIR/rank.$OMPI_COMM_WORLD_RANK"
exec "$@"
W
chmod +x "$T/wrap.sh"
export PIDDIR=$T
fail=0
start one "$DSV4" serve -m "$MODEL"; one=$(cat "$T/one.port")
[ -n "$one" ] || { echo "single-process server did not start"; cat "$T/one.log"; exit 1; }
prompts=("Tell me a story about a cat" "What is the capital of France?" "hi" "Write a haiku about the sea, please")
for i in "${!prompts[@]}"; do ask "$one" "${prompts[$i]}" >"$T/want.$i"; done
for layout in "2 rank0 --pp 2" "4 mpirun --pp 2 --ep 2"; do
  set -- $layout; np=$1 whom=$2; shift 2
  rm -f "$T"/rank.*
  start "np$np" "$MPIRUN" --oversubscribe -x PIDDIR -np "$np" "$T/wrap.sh" "$DSV4" serve -m "$MODEL" --dist-timeout 60 "$@"
  port=$(cat "$T/np$np.port")
  if [ -z "$port" ]; then echo "FAIL np $np $*: server did not start"; cat "$T/np$np.log"; fail=1; continue; fi
  asks=()
  for i in "${!prompts[@]}"; do ask "$port" "${prompts[$i]}" >"$T/got.$i" & asks+=($!); done  # batched together
  wait "${asks[@]}"
  for i in "${!prompts[@]}"; do
    if cmp -s "$T/want.$i" "$T/got.$i"; then echo "ok   np $np $*: prompt $i: $(cat "$T/got.$i")"
    else echo "FAIL np $np $*: prompt $i: $(cat "$T/got.$i") vs one process $(cat "$T/want.$i")"; fail=1; fi
  done
  pid=$(cat "$T/np$np.pid"); t0=$SECONDS
  if [ "$whom" = rank0 ]; then kill -TERM "$(cat "$T/rank.0")"; else kill -TERM "$pid"; fi
  wait "$pid"; rc=$?
  sleep 0.5
  left=$(for r in "$T"/rank.*; do p=$(cat "$r"); ps -o pid=,stat=,cmd= -p $p | grep -v " Z"; done)  # zombies have exited
  # mpirun exits 1 whenever it was signalled itself, however cleanly its ranks stopped.
  if { [ $rc = 0 ] || [ "$whom" = mpirun ]; } && [ -z "$left" ] && [ $((SECONDS - t0)) -le 40 ] &&
     grep -q "dsv4 serve: stopped" "$T/np$np.log"; then
    echo "ok   np $np $*: SIGTERM to $whom: drained, every rank stopped, exit $rc after $((SECONDS - t0)) s"
  else echo "FAIL np $np $*: SIGTERM to $whom: exit $rc after $((SECONDS - t0)) s, left: $left"; tail -20 "$T/np$np.log"; fail=1; fi
done
exit $fail

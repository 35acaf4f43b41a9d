#!/usr/bin/env bash
# The README's first command: install, build, check the built-in (trained, committed) default model, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
bash scripts/make_default_model.sh
./build/tools/dsv4 info -m models/default
./build/tools/dsv4 run --raw -p "And God said unto Moses," -n 32

# The server: start `dsv4 serve` on the default model in the background, send one chat
# completion through it with curl, print the reply and its usage, stop the server.
PORT="${DSV4_PORT:-18000}"
LOG="$(mktemp)"
./build/tools/dsv4 serve --port "$PORT" 2>"$LOG" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then cat "$LOG"; echo "dsv4 serve exited early" >&2; exit 1; fi
  sleep 0.1
done
cat "$LOG"
echo "POST /v1/chat/completions:"
REPLY="$(curl -sS "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"dsv4-default","messages":[{"role":"user","content":"Hello! Who are you?"}],"max_tokens":24,"thinking":{"type":"disabled"}}')"
echo "$REPLY"
# perl's core JSON::PP (perl comes with build-essential) prints the reply and its usage.
printf '%s' "$REPLY" | perl -MJSON::PP -e 'my $r = JSON::PP->new->decode(join("", <STDIN>));
  print "reply: ", JSON::PP->new->allow_nonref->encode($r->{choices}[0]{message}{content}), "\n";
  print "usage: ", JSON::PP->new->canonical->encode($r->{usage}), "\n";' 
kill -TERM "$SERVER"
wait "$SERVER" || true
trap - EXIT
rm -f "$LOG"

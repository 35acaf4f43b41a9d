#!/usr/bin/env bash
# The built-in default model (with its trained tokenizer.json) converted to a GGUF file runs like the
# directory: `-p` text is tokenized from the file's tokenizer.ggml.* keys and greedy generation gives
# the same tokens and text, and `dsv4 serve -m FILE.gguf` answers a chat completion.
# Usage: gguf_default_model_test.sh DSV4 MODEL_DIR
set -euo pipefail
DSV4=$1 MODEL=$2
T=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
printf '{{ bos_token }}{%% for m in messages %%}{{ m.content }}{%% endfor %%}' >"$T/t.jinja"
"$DSV4" convert -m "$MODEL" --out "$T/d.gguf" --chat-template "$T/t.jinja" >"$T/convert.log" 2>&1 \
  || { cat "$T/convert.log"; exit 1; }
grep -aq '{{ bos_token }}{% for m in messages %}' "$T/d.gguf" || { echo "FAIL: no tokenizer.chat_template"; exit 1; }
ARGS=(run -p "Hello, how are you? 数字 123" -n 12 --no-mtp --ignore-eos)
"$DSV4" "${ARGS[@]}" -m "$MODEL" >"$T/dir.out" 2>"$T/dir.err" || { cat "$T/dir.err"; exit 1; }
"$DSV4" "${ARGS[@]}" -m "$T/d.gguf" >"$T/gguf.out" 2>"$T/gguf.err" || { cat "$T/gguf.err"; exit 1; }
a=$(grep -h "tokens: " "$T/dir.out" "$T/dir.err" | head -1); b=$(grep -h "tokens: " "$T/gguf.out" "$T/gguf.err" | head -1)
[ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL tokens differ: dir '$a' gguf '$b'"; exit 1; }
# The reply text and ids (timing lines differ).
grep -v "tok/s" "$T/dir.out" >"$T/dir.txt"; grep -v "tok/s" "$T/gguf.out" >"$T/gguf.txt"
cmp -s "$T/dir.txt" "$T/gguf.txt" || { echo "FAIL reply text differs"; diff "$T/dir.txt" "$T/gguf.txt" | head; exit 1; }
echo "ok   same prompt tokens, tokens and text from the GGUF ($a)"
timeout 120 "$DSV4" serve -m "$T/d.gguf" --port 0 --parallel 1 >"$T/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do grep -q "ready" "$T/serve.log" && break; sleep 0.1; done
port=$(grep -oE 'listening on [^ ]*:[0-9]+' "$T/serve.log" | grep -oE '[0-9]+$' | head -1)
[ -n "$port" ] || { echo "FAIL serve did not start"; cat "$T/serve.log"; exit 1; }
reply=$(curl -s --max-time 30 "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"d","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"temperature":0}')
echo "$reply" | grep -q '"completion_tokens":5' || { echo "FAIL chat completion: $reply"; cat "$T/serve.log"; exit 1; }
echo "ok   dsv4 serve -m FILE.gguf answers a chat completion (model 'd')"

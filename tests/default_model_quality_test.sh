#!/usr/bin/env bash
# The committed default model is a trained one (scripts/train_default_model.sh): on held-out KJV
# text its perplexity must be far below a unigram model's (add-one frequencies of the training
# text, same tokenizer), and what it generates, greedy from a raw prompt and as a chat reply,
# must be English words (at least 90 % of them words of the training text).
# Usage: default_model_quality_test.sh DSV4 MODEL_DIR CORPUS_DIR
set -euo pipefail
DSV4=$1 MODEL=$2 CORPUS=$3
for f in "$CORPUS/train.txt" "$CORPUS/heldout.txt"; do
  [ -f "$f" ] || { echo "missing $f: run scripts/make_corpus.sh (needs the bible-kjv package)"; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
head -c 30000 "$CORPUS/heldout.txt" > "$TMP/held.txt"

"$DSV4" perplexity -m "$MODEL" --text "$TMP/held.txt" --ctx 128 > "$TMP/ppl.out" 2> "$TMP/ppl.err"
PPL=$(sed -n 's/^perplexity=\([0-9.eE+-]*\) .*/\1/p' "$TMP/ppl.out" | tail -1)

# Unigram: token frequencies of the training text, add-one over the vocabulary, on the same held-out ids.
"$DSV4" tokenize --tokenizer "$MODEL/tokenizer.json" < "$CORPUS/train.txt" > "$TMP/train.ids"
"$DSV4" tokenize --tokenizer "$MODEL/tokenizer.json" < "$TMP/held.txt" > "$TMP/held.ids"
VOCAB=$(sed -n 's/.*"vocab_size": *\([0-9]*\).*/\1/p' "$MODEL/config.json")
UNI=$(awk -v V="$VOCAB" 'NR == FNR { for (i = 1; i <= NF; i++) { c[$i]++; n++ } next }
  { for (i = 1; i <= NF; i++) { nll -= log((c[$i] + 1) / (n + V)); m++ } }
  END { printf "%.4f", exp(nll / m) }' "$TMP/train.ids" "$TMP/held.ids")
echo "held-out perplexity: trained model $PPL, unigram $UNI"
awk -v p="$PPL" -v u="$UNI" 'BEGIN { exit !(p > 1 && p * 4 < u) }' || { echo "FAIL: not far below the unigram"; exit 1; }

# Generated words must be words of the training text.
tr -cs 'A-Za-z' '\n' < "$CORPUS/train.txt" | tr 'A-Z' 'a-z' | sort -u > "$TMP/words"
check_words() {  # label text
  local n known
  printf '%s\n' "$2" | tr -cs 'A-Za-z' '\n' | tr 'A-Z' 'a-z' | grep -v '^$' > "$TMP/gen" || true
  n=$(wc -l < "$TMP/gen")
  known=$(grep -cxFf "$TMP/words" "$TMP/gen" || true)
  echo "$1: $known of $n words known: $(tr '\n' ' ' < "$TMP/gen" | cut -c1-300)"
  [ "$n" -ge 10 ] && [ $((known * 10)) -ge $((n * 9)) ] || { echo "FAIL: $1 is not English words"; exit 1; }
}
# stdout: the reply text, then "tokens: ..." and the statistics lines.
OUT=$("$DSV4" run -m "$MODEL" --raw -p "And God said unto Moses," -n 48 --ignore-eos 2>/dev/null | sed '/^tokens: [0-9]/,$d')
check_words "raw prompt" "$OUT"
CHAT=$("$DSV4" run -m "$MODEL" -p "Who made the heaven and the earth?" -n 48 --ignore-eos 2>/dev/null | sed '/^tokens: [0-9]/,$d')
check_words "chat reply" "$CHAT"
echo "PASS"

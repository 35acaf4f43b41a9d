#!/usr/bin/env bash
# Writes the training corpus for the trainer: the King James Bible (public domain, Debian package
# bible-kjv, see data/corpus/LICENSE-NOTES.md) as plain ASCII prose, one verse per line with the
# references dropped, split by chapter into data/corpus/train.txt and data/corpus/heldout.txt.
# Held-out is every 20th chapter (chapters 10, 30, 50, ... in canonical order, ~5%): whole
# chapters so no held-out verse has its neighbours in train, spread over all books and genres so
# held-out loss is representative. Bit-identical on every run with the same bible-kjv (4.38).
# Usage: make_corpus.sh [OUT_DIR]   (default data/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-data/corpus}
if ! dpkg-query -W -f='${Status}' bible-kjv 2>/dev/null | grep -q "install ok installed"; then
  echo "make_corpus: the Debian package bible-kjv is not installed (run scripts/install_deps.sh)" >&2
  exit 1
fi
mkdir -p "$OUT"
export LC_ALL=C
# -f turns pretty-printing off: one line per verse, "Ge1:1 In the beginning ...". -p pins the data
# file to the package's (bible looks in the current directory first); Gen 1:1 - Rev 22:21 is all.
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
bible -f -p /usr/lib "gen1:1-rev22:21" >"$raw"
verses=$(wc -l <"$raw")
[ "$verses" = 31102 ] || { echo "make_corpus: expected 31102 KJV verses, bible printed $verses" >&2; exit 1; }
# The reference is the first field, BOOKCHAPTER:VERSE; a new BOOKCHAPTER starts a chapter.
awk -v train="$OUT/train.txt" -v held="$OUT/heldout.txt" '
  {
    ref = $1; sub(/:[0-9]+$/, "", ref)
    if (ref != last) { chapter++; last = ref }
    text = $0; sub(/^[^ ]+ /, "", text)
    gsub(/  +/, " ", text); sub(/ +$/, "", text)  # the source has 2 double spaces and 1 trailing one
    print text > ((chapter % 20 == 10) ? held : train)
  }
  END { if (chapter != 1189) { print "make_corpus: expected 1189 chapters, got " chapter > "/dev/stderr"; exit 1 } }
' "$raw"
for f in "$OUT/train.txt" "$OUT/heldout.txt"; do
  printf '%-28s %8d bytes %6d lines %8d words  sha256 %s\n' "$f" "$(wc -c <"$f")" "$(wc -l <"$f")" \
    "$(wc -w <"$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done

#!/usr/bin/env bash
# Plots a `dsv4 train` loss log (OUT/loss.tsv) to a PNG with gnuplot (Debian gnuplot-nox):
# training loss of the main head (thin), its 20-step running mean, and the held-out loss at each
# evaluation (points), in nats per token.
# Usage: scripts/plot_loss.sh LOSS.tsv OUT.png [TITLE]
set -euo pipefail
LOG=${1:?usage: plot_loss.sh LOSS.tsv OUT.png [TITLE]}
PNG=${2:?usage: plot_loss.sh LOSS.tsv OUT.png [TITLE]}
TITLE=${3:-dsv4 train}
[ -f "$LOG" ] || { echo "plot_loss.sh: $LOG: no such file" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot_loss.sh: gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
# The running mean is computed here (gnuplot 5.4 has no moving-window smoothing).
SMOOTH=$(mktemp)
trap 'rm -f "$SMOOTH"' EXIT
awk -F'\t' '!/^#/ { n++; v[n % 20] = $3; s = 0; c = 0; for (k in v) { s += v[k]; c++ } print $1 "\t" s / c }' "$LOG" > "$SMOOTH"
gnuplot <<GP
set terminal pngcairo size 900,540 font "sans,11"
set output "$PNG"
set title "$TITLE"
set xlabel "step"
set ylabel "cross-entropy (nats / token)"
set grid
set key top right
set datafile separator "\t"
set datafile missing ""
plot "$LOG" using 1:3 with lines lc rgb "#b0c4de" title "training (main head)", \
     "$SMOOTH" using 1:2 with lines lw 2 lc rgb "#1f4e9c" title "training, 20-step mean", \
     "$LOG" using 1:(strcol(6) eq "" ? NaN : \$6) with linespoints pt 7 ps 0.8 lw 2 lc rgb "#c0392b" title "held-out"
GP
echo "plot_loss.sh: wrote $PNG"

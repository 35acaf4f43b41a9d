#!/usr/bin/env bash
# A pipeline stage's machine may hold just its part of the checkpoint: rank 1 gets a directory
# with only the shard of its layers (plus config.json and the index), and the run's logits are
# bitwise the single process's. Usage: mpi_partial_test.sh DSV4 MPIRUN MODEL_DIR (two shards,
# the later layers and the head in the second: models/default)
set -euo pipefail
DSV4=$1 MPIRUN=$2 MODEL=$3
source "$(dirname "$0")/mpi_env.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# The shard holding the last layer, and the layers held entirely by it.
read -r shard first < <(python3 - "$MODEL" <<'PY'
import json, sys
j = json.load(open(sys.argv[1] + "/model.safetensors.index.json"))["weight_map"]
layers = {}
for name, f in j.items():
    if name.startswith("layers."):
        layers.setdefault(int(name.split(".")[1]), set()).add(f)
last = max(layers)
shard = next(iter(layers[last]))
first = min(l for l in layers if all(layers[m] == {shard} for m in range(l, last + 1)))
print(shard, first)
PY
)
n=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['num_hidden_layers'])" "$MODEL")
[ "$first" -ge 1 ] || { echo "need a checkpoint whose first shard holds early layers only"; exit 1; }
mkdir "$T/part"
cp "$MODEL/config.json" "$MODEL/model.safetensors.index.json" "$MODEL/$shard" "$T/part/"
ARGS=(run --tokens 5,6,7,8,9 -n 8 --ignore-eos -q --copies 2 --temp 0.7)
"$DSV4" "${ARGS[@]}" -m "$MODEL" --logits-out "$T/one" >/dev/null
D=(--pp 2 --pp-split "$first,$((n - first))" --logits-out "$T/two")
timeout 120 "$MPIRUN" --oversubscribe -np 1 "$DSV4" "${ARGS[@]}" -m "$MODEL" "${D[@]}" : \
  -np 1 "$DSV4" "${ARGS[@]}" -m "$T/part" "${D[@]}" >"$T/log" 2>&1 || { cat "$T/log"; exit 1; }
cmp "$T/one" "$T/two"
echo "ok   rank 1 with only $shard (layers $first-$((n - 1))): logits identical"

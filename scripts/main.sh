#!/usr/bin/env bash
# The README's first command: install, build, make the built-in default model, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
bash scripts/make_default_model.sh
./build/tools/dsv4 info -m models/default
./build/tools/dsv4 run --tokens 1,2,3,4 -n 16

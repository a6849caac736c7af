#!/usr/bin/env bash
# The main job: install what is missing, build, and run hearthd on an
# embedded data directory (./data) at http://127.0.0.1:4327.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target hearthd hearth

echo "hearthd: try 'curl http://127.0.0.1:4327/healthz'; stop with Ctrl-C" >&2
exec build/bin/hearthd --data-dir "${HEARTH_DATA_DIR:-data}" --listen "${HEARTH_LISTEN:-127.0.0.1:4327}" "$@"

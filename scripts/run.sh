#!/usr/bin/env bash
# The main job: install what is missing, build, and run hearthd on its
# embedded data directory ($HEARTH_DATA_DIR, default ~/.local/share/hearth)
# at http://127.0.0.1:4327, with real QEMU microVMs. Extra arguments go to
# hearthd (e.g. --driver simulated, --config hearthd.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target hearthd hearth hearth-agent

echo "hearthd: the CLI is build/bin/hearth (try 'build/bin/hearth template list'); stop with Ctrl-C" >&2
exec build/bin/hearthd "$@"

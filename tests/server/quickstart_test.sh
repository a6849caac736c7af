#!/usr/bin/env bash
# Runs examples/quickstart.sh against a real hearthd on real VMs: a fresh
# data directory, a free loopback port, the shared guest image cache.
# Usage: quickstart_test.sh BIN_DIR SOURCE_DIR
set -euo pipefail
bin=$1
source=$2
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)))
images=${HEARTH_TEST_IMAGE_DIR:-/var/tmp/hearth-test-images}
mkdir -p "$images"

"$bin/hearthd" --data-dir "$data" --listen "127.0.0.1:$port" --image-dir "$images" \
  >"$data/hearthd.log" 2>&1 &
daemon=$!
cleanup() {
  kill -TERM "$daemon" 2>/dev/null && wait "$daemon" || true
  # hearthd leaves VMs running for the next start to re-adopt; this is a test.
  pkill -f "qemu-system-x86_64.*$data" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || { cat "$data/hearthd.log"; exit 1; }
  sleep 0.1
done

status=0
HEARTH="$bin/hearth" HEARTH_SERVER="http://127.0.0.1:$port" HEARTH_DATA_DIR="$data" \
  "$source/examples/quickstart.sh" || status=$?
if [[ $status -ne 0 ]]; then
  echo "---- hearthd log (tail)" >&2
  tail -n 60 "$data/hearthd.log" >&2
fi
exit $status

#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: first the normal
# build, then the whole suite again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)

echo "== build (RelWithDebInfo)" >&2
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

echo "== tests" >&2
# Tests labelled "vm" boot QEMU guests: they run one at a time.
ctest --test-dir build --output-on-failure -j "$jobs" -LE vm
ctest --test-dir build --output-on-failure -j 1 -L vm --no-tests=ignore

echo "== fuzz: the HTTP API for 60 s (libFuzzer, clang)" >&2
scripts/fuzz.sh 60

echo "== build (ASan + UBSan)" >&2
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON \
  -DHEARTH_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"

echo "== tests under ASan + UBSan" >&2
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/ubsan.supp"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE vm
ctest --test-dir build-asan --output-on-failure -j 1 -L vm --no-tests=ignore

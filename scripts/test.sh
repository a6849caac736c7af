#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: first the normal
# build, then the tests of hearth's own threads under ThreadSanitizer, then
# the whole suite again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)

# Each phase's heading carries the seconds since the start, so a slow CI run's
# log shows where its time went.
started=$SECONDS
phase() { echo "== [$((SECONDS - started)) s] $*" >&2; }

phase "format: every C++ file as .clang-format says (scripts/format.sh --check)"
scripts/format.sh --check

phase "build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

phase "tests"
# Tests labelled "vm" boot QEMU guests: they run one at a time.
ctest --test-dir build --output-on-failure -j "$jobs" -LE vm
ctest --test-dir build --output-on-failure -j 1 -L vm --no-tests=ignore

phase "fuzz: the HTTP API for 60 s (libFuzzer, clang)"
scripts/fuzz.sh 60

phase "ThreadSanitizer: the tests of hearth's own threads (scripts/tsan.sh)"
scripts/tsan.sh

phase "build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON \
  -DHEARTH_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs"

phase "tests under ASan + UBSan"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/ubsan.supp"
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE vm
ctest --test-dir build-asan --output-on-failure -j 1 -L vm --no-tests=ignore
phase "done"

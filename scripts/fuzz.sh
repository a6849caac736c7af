#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for a
# bounded time: raw bytes through hearthd's request parser and HTTP API.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHEARTH_FUZZ=ON -DHEARTH_BUILD_TESTS=OFF -DHEARTH_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz --target http_api_fuzz

# libFuzzer adds what it finds to the corpus: work on a copy.
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp tests/fuzz/corpus/* "$corpus/"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$PWD/scripts/ubsan.supp"
# The harness keeps one runtime for the whole run on purpose.
export ASAN_OPTIONS="detect_leaks=0"
mkdir -p build-fuzz/findings
build-fuzz/bin/http_api_fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/findings/ "$corpus"

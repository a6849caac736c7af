#!/usr/bin/env bash
# Builds the tests of hearth's own threads under ThreadSanitizer and runs
# them: the journal's group committer and writer, hearth's memtable (readers
# while a writer inserts), the snapshot store, the codecs, the QMP client and
# the QEMU process waits.
#
# The actor tests are not among them. CAF 0.17.6 comes from Debian
# uninstrumented: TSan cannot see how a message passes from one thread to
# another through CAF's mailboxes, and reports every message's contents as a
# race (over a thousand reports per run of actors_test, each through CAF).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARTH_TSAN=ON \
  -DHEARTH_BUILD_BENCH=OFF >/dev/null
tests=(store_test events_test process_test qmp_test support_test malloc_test)
cmake --build build-tsan --target "${tests[@]}"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
for test in "${tests[@]}"; do
  echo "-- $test under ThreadSanitizer" >&2
  skip=()
  # This test forks a process that opens RocksDB, which starts threads: a
  # forked child of a TSan program cannot start threads.
  [[ $test == store_test ]] && skip=(-tce="opening a journal that another process holds*")
  "build-tsan/tests/$test" "${skip[@]}"
done

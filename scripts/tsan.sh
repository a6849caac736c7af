#!/usr/bin/env bash
# Builds the tests of hearth's own threads under ThreadSanitizer and runs
# them: the journal's group committer and writer, hearth's memtable (readers
# while a writer inserts), the snapshot store, the codecs, the QMP client and
# the QEMU process waits. scripts/test.sh (CI) runs this.
#
#   scripts/tsan.sh              the tests above
#   scripts/tsan.sh --with-caf   also the actor tests and hearthd's tests
#                                (server_test), against a CAF built here
#                                with ThreadSanitizer (~10 minutes more)
#
# Debian's CAF 0.17.6 is not instrumented: TSan cannot see how a message
# passes from one thread to another through CAF's mailboxes, and reports
# every message's contents as a race (over a thousand reports per run of
# actors_test, each through CAF). --with-caf downloads CAF's source as
# Debian ships it (the upstream tarball, checked against the SHA-256 in
# Debian's .dsc), builds libcaf_core and libcaf_io with -fsanitize=thread
# into build-tsan/caf, and runs the tests with those libraries in place of
# Debian's (same version, same ABI: LD_LIBRARY_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

with_caf=false
case "${1:-}" in
  "") ;;
  --with-caf) with_caf=true ;;
  *) echo "usage: scripts/tsan.sh [--with-caf]" >&2; exit 2 ;;
esac

cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARTH_TSAN=ON \
  -DHEARTH_BUILD_BENCH=OFF >/dev/null
tests=(store_test events_test process_test qmp_test support_test malloc_test)
$with_caf && tests+=(actors_test server_test)
cmake --build build-tsan --target "${tests[@]}"

if $with_caf; then
  version=0.17.6
  sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c
  installed=$(dpkg-query -W -f='${source:Upstream-Version}' libcaf-dev)
  if [[ $installed != "$version" ]]; then
    echo "scripts/tsan.sh: libcaf-dev is $installed; this script builds CAF $version" >&2
    exit 1
  fi
  caf=$PWD/build-tsan/caf
  if [[ ! -e $caf/lib/libcaf_core.so.$version ]]; then
    mkdir -p "$caf"
    tarball=$caf/actor-framework_$version.orig.tar.gz
    [[ -e $tarball ]] || curl -fsSL -o "$tarball" \
      "http://deb.debian.org/debian/pool/main/a/actor-framework/actor-framework_$version.orig.tar.gz"
    echo "$sha256  $tarball" | sha256sum --check --quiet
    rm -rf "$caf/src" && mkdir -p "$caf/src"
    tar xzf "$tarball" -C "$caf/src" --strip-components=1
    # Debian patches this header too: GCC 12 wants <limits> spelled out.
    sed -i 's|#include <cstddef>|#include <cstddef>\n#include <limits>|' \
      "$caf/src/libcaf_io/caf/io/network/receive_buffer.hpp"
    cmake -S "$caf/src" -B "$caf/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes -DCAF_NO_OPENCL=yes \
      -DCAF_NO_OPENSSL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_SUMMARY=yes \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
      -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" >/dev/null
    cmake --build "$caf/build"
    mkdir -p "$caf/lib" && cp -P "$caf/build/lib/"libcaf_*.so* "$caf/lib/"
  fi
  # The test programs and the hearthd and hearth they start load these.
  export LD_LIBRARY_PATH=$caf/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
for test in "${tests[@]}"; do
  echo "-- $test under ThreadSanitizer" >&2
  skip=()
  # This test forks a process that opens RocksDB, which starts threads: a
  # forked child of a TSan program cannot start threads.
  [[ $test == store_test ]] && skip=(-tce="opening a journal that another process holds*")
  "build-tsan/tests/$test" "${skip[@]}"
done

#!/usr/bin/env bash
# Installs every Debian package hearth needs to build, test and run.
# Idempotent: when everything is present it returns after one dpkg query.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # clang: libFuzzer target and sanitizer runtime; clang-format: scripts/format.sh
  clang libclang-rt-14-dev clang-format
  # libraries
  libcaf-dev librocksdb-dev libmsgpack-cxx-dev doctest-dev
  libboost-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  # hearthd: its TOML config file; API keys are kept as SHA-256 digests
  libtomlplusplus-dev libssl-dev
  # hearthd and the benchmarks allocate with tcmalloc (README: allocator)
  libgoogle-perftools-dev
  # VMs
  qemu-system-x86
  # guest images: qcow2 overlays, Debian roots on ext4
  qemu-utils debootstrap e2fsprogs
  # the relay behind a guest's allowed outbound destinations
  socat
  # test and example helpers; wrk drives bench/api's status figure
  curl wrk
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

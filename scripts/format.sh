#!/usr/bin/env bash
# Formats every C++ file with the root's .clang-format (Debian 12's
# clang-format 14), or with --check only reports the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."

# The files git tracks; outside a git checkout (a source tarball) there is
# no list, and nothing is checked rather than clang-format reading stdin.
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || true)
if ((${#files[@]} == 0)); then
  echo "format: not a git checkout, no files to format" >&2
  exit 0
fi
if [[ "${1:-}" == "--check" ]]; then
  if ! clang-format --dry-run --Werror "${files[@]}" 2>/dev/null; then
    clang-format --dry-run "${files[@]}" 2>&1 \
      | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: warning.*/format: not formatted: \1/p' | sort -u >&2
    echo "format: run scripts/format.sh to format them" >&2
    exit 1
  fi
else
  clang-format -i "${files[@]}"
fi

#!/usr/bin/env bash
# The seed's warm-pool flow with the hearth CLI, against a running hearthd:
# build a template that serves HTTP, tag it stable, keep a pool of 2-4 warm
# VMs tracking the tag, take a sandbox from it and fetch its page, move the
# tag and watch the rollout, then drain and delete. Exits non-zero (naming
# the step) as soon as something is not as the seed says.
#
#   examples/quickstart.sh            # hearthd on 127.0.0.1:4327, its default data dir
#   HEARTH=build/bin/hearth HEARTH_SERVER=http://127.0.0.1:4400 \
#     HEARTH_DATA_DIR=/tmp/data examples/quickstart.sh
set -euo pipefail

hearth=${HEARTH:-hearth}
if ! command -v "$hearth" >/dev/null; then
  hearth="$(cd "$(dirname "$0")/.." && pwd)/build/bin/hearth"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*" >&2; }
fail() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }
# A top-level field of the CLI's --json output (pretty-printed, one per line).
field() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" | head -n 1; }
# A field of the pool's status counts (nested one level deeper).
count() { sed -n "s/^    \"$1\": \([0-9]*\),\{0,1\}\$/\1/p" | head -n 1; }

build() { # build VERSION: a busybox httpd serving "hello from VERSION"
  echo "hello from $1" >"$work/index.html"
  "$hearth" template build demo/web --copy "$work/index.html:/www/index.html" \
    --start-cmd "httpd -f -p 8080 -h /www" --wait-for-port 8080 --json "${@:2}"
}

step "build demo/web v1, tagged stable"
v1=$(build v1 --tag stable | field build_id)
[[ -n $v1 ]] || fail "the build did not answer a build_id"
"$hearth" template get demo/web

step "a warm pool of 2-4 VMs that tracks the stable tag"
"$hearth" template warm-pool create demo/web:stable --name web-small --min-ready 2 \
  --max-ready 4 --version-policy track_tag --track-tag stable --json | field id |
  grep -qx twp_web_small || fail "the pool's id is not twp_web_small"
"$hearth" template warm-pool wait twp_web_small --min-ready 2 --timeout 300 >/dev/null
"$hearth" template warm-pool status twp_web_small

step "a sandbox from the pool in prefer mode, and its page"
"$hearth" sandbox create --warm-pool twp_web_small --warm-pool-mode prefer --json >"$work/sbx"
sandbox=$(field id <"$work/sbx")
grep -q '"hit": true' "$work/sbx" || fail "prefer did not hit a ready VM"
grep -q '"source": "warm_pool"' "$work/sbx" || fail "the checkout's source is not warm_pool"
endpoint=$(sed -n 's/^    "8080": "\(.*\)"$/\1/p' "$work/sbx")
page=$(curl -fsS --max-time 10 "http://$endpoint/")
[[ $page == "hello from v1" ]] || fail "the sandbox answered '$page'"
echo "$sandbox at http://$endpoint/: $page"
"$hearth" sandbox list

step "the pool refills to 2 ready"
"$hearth" template warm-pool wait twp_web_small --min-ready 2 --timeout 300 >/dev/null
"$hearth" template warm-pool status twp_web_small

step "build v2 and move the stable tag: the pool rolls out"
v2=$(build v2 | field build_id)
[[ -n $v2 && $v2 != "$v1" ]] || fail "v2 did not get a build of its own"
"$hearth" template tag demo/web stable "$v2"
"$hearth" template warm-pool wait twp_web_small --min-ready 2 --build "$v2" --timeout 300 \
  --json >"$work/pool" || fail "the pool did not roll out to $v2"
[[ $(field build_id <"$work/pool") == "$v2" ]] || fail "the pool did not move to $v2"
[[ $(field generation <"$work/pool") -ge 2 ]] || fail "no new rollout generation"
"$hearth" template warm-pool get twp_web_small
page=$(curl -fsS --max-time 10 "http://$endpoint/")
[[ $page == "hello from v1" ]] || fail "the claimed v1 sandbox changed: '$page'"
"$hearth" sandbox create --warm-pool twp_web_small --warm-pool-mode require --json >"$work/sbx2"
endpoint2=$(sed -n 's/^    "8080": "\(.*\)"$/\1/p' "$work/sbx2")
page=$(curl -fsS --max-time 10 "http://$endpoint2/")
[[ $page == "hello from v2" ]] || fail "a sandbox after the rollout answered '$page'"
echo "after the rollout: $page (and the v1 sandbox still serves v1)"

step "kill the sandboxes, drain and delete the pool"
"$hearth" sandbox kill "$sandbox" >/dev/null
"$hearth" sandbox kill "$(field id <"$work/sbx2")" >/dev/null
"$hearth" template warm-pool drain twp_web_small --json | field draining | grep -qx true ||
  fail "drain did not start"
"$hearth" template warm-pool delete twp_web_small --wait --timeout 120 ||
  fail "the pool was not deleted"
"$hearth" template warm-pool list
echo "quickstart: done" >&2

#!/usr/bin/env bash
# Runs the README's "Install as a Debian package" block as written (the
# server's Release build in build-release/, `cpack -G DEB` there and
# `apt install` of the package; root needs no sudo), checks the systemd unit with `systemd-analyze verify`, starts the
# installed binary as the unit would (user banditd, the packaged flag file;
# there is no systemd PID 1 here) on free ports, talks to it over gRPC and
# HTTP, stops it, and purges the package. Needs root (CI runs as root); the
# machine's own banditd package, if any, is refused rather than replaced.
#   scripts/test_deb.sh
# Prints "N passed, N failed" at the end; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PASSED=0 FAILED=0
check() {  # check NAME COMMAND...
  local name=$1; shift
  if "$@"; then
    PASSED=$((PASSED + 1)); echo "ok   $name"
  else
    FAILED=$((FAILED + 1)); echo "FAIL $name"
  fi
}
finish() { echo "$PASSED passed, $FAILED failed"; ((FAILED == 0)); exit $?; }

if [[ $(id -u) -ne 0 ]]; then echo "test_deb: needs root (dpkg -i)" >&2; exit 1; fi
# One package test at a time on this machine (dpkg has one database).
exec 9>/tmp/banditd-test-deb.lock
flock 9
if dpkg-query -W -f='${Status}' banditd 2>/dev/null | grep -q "install ok installed"; then
  echo "test_deb: a banditd package is installed already; not touching it" >&2
  exit 1
fi

TMP=$(mktemp -d)
SERVER=""
cleanup() {
  [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  dpkg --purge banditd >/dev/null 2>&1
  rm -rf /var/lib/banditd "$TMP"
}
trap cleanup EXIT

# The README block, from the README itself: a change there is what runs here.
BLOCK=$(awk '/^### Install as a Debian package$/ {s = 1; next}
  s && /^```sh$/ {b = 1; next}  b && /^```$/ {exit}  b {print}' README.md)
[[ -n $BLOCK ]] || { echo "test_deb: no sh block under the README's 'Install as a Debian package'" >&2; exit 1; }
echo "README block:"; echo "$BLOCK" | sed 's/^/  /'
# Root without sudo (CI): the block's sudo is a no-op.
if ! command -v sudo >/dev/null; then sudo() { "$@"; }; export -f sudo; fi
run_block() {
  DEBIAN_FRONTEND=noninteractive bash -euo pipefail -c "$BLOCK" </dev/null >"$TMP/block.log" 2>&1 ||
    { tail -40 "$TMP/block.log"; return 1; }
}
check "README block builds and installs the package" run_block
VERSION=$(sed -n "s/^project(banditd VERSION \([^ ]*\).*/\1/p" CMakeLists.txt)
DEB=build-release/banditd_${VERSION}_amd64.deb
[[ -f $DEB ]] || { echo "test_deb: $DEB not built" >&2; finish; }
echo "package: $(basename "$DEB") ($(du -h "$DEB" | cut -f1))"
check "installed package is this version" bash -c "dpkg-query -W -f='\${Version}' banditd | grep -qx '$VERSION'"
# Shared libraries the binary links are dependencies (dpkg-shlibdeps).
check "depends on spdlog (the log)" bash -c "dpkg-deb -f '$DEB' Depends | grep -q libspdlog"
check "depends on librdkafka (Kafka ingest)" bash -c "dpkg-deb -f '$DEB' Depends | grep -q librdkafka"
check "depends on tcmalloc (the server's malloc)" bash -c "dpkg-deb -f '$DEB' Depends | grep -q libtcmalloc-minimal4"
check "installed binary's malloc is tcmalloc" bash -c "ldd /usr/bin/banditd | grep -q libtcmalloc_minimal"
check "binary on PATH" test -x /usr/bin/banditd
check "version" bash -c '/usr/bin/banditd --version | grep -q "^banditd $(sed -n "s/^project(banditd VERSION \([^ ]*\).*/\1/p" CMakeLists.txt) "'
check "flag file is a conffile" bash -c 'dpkg-query -W -f="\${Conffiles}" banditd | grep -q /etc/banditd/banditd.flags'
check "flag file not world-readable" bash -c '[[ $(stat -c "%a %U:%G" /etc/banditd/banditd.flags) == "640 root:banditd" ]]'
check "system user banditd" bash -c 'getent passwd banditd | grep -q ":/var/lib/banditd:"'
check "data dir owned by banditd" bash -c '[[ $(stat -c "%U %a" /var/lib/banditd) == "banditd 750" ]]'
check "systemd-analyze verify" systemd-analyze verify /usr/lib/systemd/system/banditd.service
check "unit runs the packaged flag file" \
  grep -q "^ExecStart=/usr/bin/banditd --flagfile=/etc/banditd/banditd.flags$" \
  /usr/lib/systemd/system/banditd.service

# As the unit would: user banditd, the packaged flags (ports overridden so a
# server already on 50051 does not matter; later flags win).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port) HTTP_PORT=$(free_port)
# setpriv execs the server itself (no intermediate process for SIGTERM).
setpriv --reuid=banditd --regid=banditd --init-groups /usr/bin/banditd --flagfile=/etc/banditd/banditd.flags \
  --port="$PORT" --http_port="$HTTP_PORT" >"$TMP/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
  curl -sf "localhost:$HTTP_PORT/openapi.json" >/dev/null && break
  sleep 0.1
done
check "server starts from the flag file" grep -q "serving on 127.0.0.1:$PORT" "$TMP/server.log"
check "HTTP create room" bash -c "curl -sf -X POST localhost:$HTTP_PORT/v1/rooms \
  -d '{\"roomId\": \"deb-room\", \"armIds\": [\"a\", \"b\"]}' | grep -q deb-room"
check "HTTP feedback" bash -c "curl -sf -X POST localhost:$HTTP_PORT/v1/feedback \
  -d '{\"events\": [{\"roomId\": \"deb-room\", \"armId\": \"b\", \"views\": 3}]}' | grep -q '\"appliedEvents\":\"1\"'"
if [[ -x .tools/bin/grpcurl ]]; then
  check "gRPC health SERVING" bash -c ".tools/bin/grpcurl -plaintext localhost:$PORT grpc.health.v1.Health/Check | grep -q SERVING"
fi
check "database in /var/lib/banditd, owned by banditd" \
  bash -c '[[ $(stat -c %U /var/lib/banditd/banditd.db) == banditd ]]'
kill -TERM "$SERVER"; wait "$SERVER"; rc=$?; SERVER=""
check "SIGTERM stops it cleanly" test "$rc" -eq 0
check "dpkg --purge removes it" bash -c 'dpkg --purge banditd >/dev/null && ! test -e /usr/bin/banditd && ! getent passwd banditd >/dev/null'
finish

#!/usr/bin/env bash
# The cost of one gRPC call: banditd's Sample (k = 1, 100 arms, UCB1, 5
# context items, as scripts/bench_grpc.sh) beside a trivial Echo server on the
# same packaged gRPC and server options (bench/echo_server.cc), both driven by
# banditd_grpc_load. Each round runs echo then Sample at every concurrency,
# alternating, so the floor comes from the same run; medians over ROUNDS.
# Prints calls/s and server CPU per call, and the ratios Sample / echo.
#   nice -n 10 scripts/bench_percall.sh
# Environment: BUILD (build), ROUNDS (3), DURATION (3s per run), CONCURRENCY
# ("1 32 128"), PORT (50171; echo on PORT+1), ECHO_FLAGS (e.g. --api=async,
# --channel_args=grpc.http2.bdp_probe=0), SERVER_FLAGS (extra banditd flags).
# GRPC_POLL_STRATEGY and other gRPC environment variables reach both servers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3s}
CONCURRENCY=${CONCURRENCY:-"1 32 128"}
PORT=${PORT:-50171}
ECHO_PORT=$((PORT + 1))
ECHO_FLAGS=${ECHO_FLAGS:-}
SERVER_FLAGS=${SERVER_FLAGS:-}
BANDITD=$BUILD/server/banditd
[[ -x $BANDITD ]] || BANDITD=$BUILD/banditd
LOAD=$BUILD/bench/banditd_grpc_load
ECHO=$BUILD/bench/banditd_echo_server
for bin in "$BANDITD" "$LOAD" "$ECHO"; do
  [[ -x $bin ]] || { echo "no $bin: build banditd, banditd_grpc_load and banditd_echo_server" >&2; exit 1; }
done

DATA=$(mktemp -d)
OUT=$(mktemp -d)
# shellcheck disable=SC2086  # flag lists
"$BANDITD" --host=127.0.0.1 --port="$PORT" --data_dir="$DATA" $SERVER_FLAGS \
  >"$OUT/banditd.log" 2>&1 &
SERVER=$!
# shellcheck disable=SC2086
"$ECHO" --port="$ECHO_PORT" $ECHO_FLAGS >"$OUT/echo.log" 2>&1 &
ECHO_PID=$!
cleanup() {
  kill "$SERVER" "$ECHO_PID" 2>/dev/null || true
  wait "$SERVER" "$ECHO_PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== banditd $SERVER_FLAGS; echo $ECHO_FLAGS; GRPC_POLL_STRATEGY=${GRPC_POLL_STRATEGY:-default}; $DURATION per run, $ROUNDS rounds"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Creates and feeds the room (waits for banditd to listen).
"$LOAD" --target="127.0.0.1:$PORT" --mode=sample --concurrency=1 \
  --duration=200ms --warmup=0s >/dev/null

for round in $(seq "$ROUNDS"); do
  for c in $CONCURRENCY; do
    "$LOAD" --target="127.0.0.1:$ECHO_PORT" --mode=echo --concurrency="$c" \
      --duration="$DURATION" --server_pid="$ECHO_PID" --label="echo_c$c" \
      | tee -a "$OUT/results.txt"
    "$LOAD" --target="127.0.0.1:$PORT" --mode=sample --setup=false \
      --concurrency="$c" --duration="$DURATION" --server_pid="$SERVER" \
      --label="sample_c$c" | tee -a "$OUT/results.txt"
  done
  echo "-- round $round done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
done

python3 - "$OUT/results.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)\s+(\d+)/s.*p50\s+([\d.]+).*server CPU\s+([\d.]+) us", line)
    if m:
        runs.setdefault(m[1], []).append((float(m[2]), float(m[3]), float(m[4])))
med = {k: [statistics.median(x[i] for x in v) for i in range(3)]
       for k, v in runs.items()}
print("\nmedians of %d rounds:" % max(len(v) for v in runs.values()))
print("%-5s %12s %12s %8s  %12s %12s %8s" % (
    "c", "echo calls/s", "sample", "ratio", "echo us/call", "sample", "ratio"))
for k in sorted({int(k.split("_c")[1]) for k in med}):
    e, s = med.get("echo_c%d" % k), med.get("sample_c%d" % k)
    if not e or not s:
        continue
    print("%-5d %12.0f %12.0f %7.2fx  %12.1f %12.1f %7.2fx" % (
        k, e[0], s[0], s[0] / e[0], e[2], s[2], s[2] / e[2]))
PY
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

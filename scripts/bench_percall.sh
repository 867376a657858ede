#!/usr/bin/env bash
# The cost of one gRPC call: banditd's Sample (k = 1, 100 arms, UCB1, 5
# context items, as scripts/bench_grpc.sh) beside a trivial Echo server on the
# same packaged gRPC and server options (bench/echo_server.cc), both driven by
# banditd_grpc_load. Each round runs echo then Sample at every concurrency,
# alternating, so the floor comes from the same run; medians over ROUNDS.
# Two echo servers run side by side: the callback API (echo_cb) and the
# asynchronous API answering inline on its polling thread, without gRPC's
# callback health service (echo_async: --async_threads=1 --health=false),
# built as banditd serves. With BEFORE=<another banditd binary> (e.g.
# main's), its Sample runs too (sample_before), and with EXTRA_FLAGS a
# second banditd of this build with those flags (sample_extra), in the same
# rounds.
# Prints calls/s and server CPU per call, and the ratios against each echo
# (of the medians, and the median of each round's ratio).
#   nice -n 10 scripts/bench_percall.sh
# Environment: BUILD (build), ROUNDS (3), DURATION (3s per run), CONCURRENCY
# ("1 32 128"), PORT (50171; echoes on PORT+1 and PORT+2, BEFORE on PORT+3),
# ECHO_FLAGS (both echoes, e.g. --channel_args=grpc.http2.bdp_probe=0),
# ASYNC_THREADS (1), SERVER_FLAGS (extra banditd flags, every binary), BEFORE,
# EXTRA_FLAGS (on PORT+4), SAMPLE_ITEMS (5: context items of each Sample
# call, 0 to 5; 0 scores the whole-room counters only, issue 17's "100 arms,
# k = 1"; the echo payload follows the request's size).
# GRPC_POLL_STRATEGY and other gRPC environment variables reach both servers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3s}
CONCURRENCY=${CONCURRENCY:-"1 32 128"}
PORT=${PORT:-50171}
ECHO_PORT=$((PORT + 1))
ASYNC_PORT=$((PORT + 2))
BEFORE_PORT=$((PORT + 3))
ECHO_FLAGS=${ECHO_FLAGS:-}
ASYNC_THREADS=${ASYNC_THREADS:-1}
SERVER_FLAGS=${SERVER_FLAGS:-}
BEFORE=${BEFORE:-}
EXTRA_PORT=$((PORT + 4))
EXTRA_FLAGS=${EXTRA_FLAGS:-}
SAMPLE_ITEMS=${SAMPLE_ITEMS:-5}
BANDITD=$BUILD/server/banditd
[[ -x $BANDITD ]] || BANDITD=$BUILD/banditd
LOAD=$BUILD/bench/banditd_grpc_load
load() { "$LOAD" --sample_context_items="$SAMPLE_ITEMS" "$@"; }
ECHO=$BUILD/bench/banditd_echo_server
for bin in "$BANDITD" "$LOAD" "$ECHO"; do
  [[ -x $bin ]] || { echo "no $bin: build banditd, banditd_grpc_load and banditd_echo_server" >&2; exit 1; }
done

DATA=$(mktemp -d)
OUT=$(mktemp -d)
mkdir "$DATA/after" "$DATA/before" "$DATA/extra"
# shellcheck disable=SC2086  # flag lists
"$BANDITD" --host=127.0.0.1 --port="$PORT" --data_dir="$DATA/after" \
  $SERVER_FLAGS >"$OUT/banditd.log" 2>&1 &
SERVER=$!
PIDS=("$SERVER")
# shellcheck disable=SC2086
"$ECHO" --port="$ECHO_PORT" --api=callback $ECHO_FLAGS >"$OUT/echo.log" 2>&1 &
ECHO_PID=$!
# shellcheck disable=SC2086
"$ECHO" --port="$ASYNC_PORT" --api=async --async_threads="$ASYNC_THREADS" \
  --health=false $ECHO_FLAGS >"$OUT/echo_async.log" 2>&1 &
ASYNC_PID=$!
PIDS+=("$ECHO_PID" "$ASYNC_PID")
if [[ -n $BEFORE ]]; then
  # shellcheck disable=SC2086
  "$BEFORE" --host=127.0.0.1 --port="$BEFORE_PORT" --data_dir="$DATA/before" \
    $SERVER_FLAGS >"$OUT/before.log" 2>&1 &
  BEFORE_PID=$!
  PIDS+=("$BEFORE_PID")
fi
if [[ -n $EXTRA_FLAGS ]]; then
  # shellcheck disable=SC2086
  "$BANDITD" --host=127.0.0.1 --port="$EXTRA_PORT" --data_dir="$DATA/extra" \
    $SERVER_FLAGS $EXTRA_FLAGS >"$OUT/extra.log" 2>&1 &
  EXTRA_PID=$!
  PIDS+=("$EXTRA_PID")
fi
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== banditd $SERVER_FLAGS; before: ${BEFORE:-none}; extra: ${EXTRA_FLAGS:-none}; echo $ECHO_FLAGS, async $ASYNC_THREADS threads; GRPC_POLL_STRATEGY=${GRPC_POLL_STRATEGY:-default}; $DURATION per run, $ROUNDS rounds; Sample with $SAMPLE_ITEMS context items"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Creates and feeds the room (waits for banditd to listen).
load --target="127.0.0.1:$PORT" --mode=sample --concurrency=1 \
  --duration=200ms --warmup=0s >/dev/null
for port in ${BEFORE:+$BEFORE_PORT} ${EXTRA_FLAGS:+$EXTRA_PORT}; do
  load --target="127.0.0.1:$port" --mode=sample --concurrency=1 \
    --duration=200ms --warmup=0s >/dev/null
done

for round in $(seq "$ROUNDS"); do
  for c in $CONCURRENCY; do
    load --target="127.0.0.1:$ECHO_PORT" --mode=echo --concurrency="$c" \
      --duration="$DURATION" --server_pid="$ECHO_PID" --label="echo_cb_c$c" \
      | tee -a "$OUT/results.txt"
    load --target="127.0.0.1:$ASYNC_PORT" --mode=echo --concurrency="$c" \
      --duration="$DURATION" --server_pid="$ASYNC_PID" \
      --label="echo_async_c$c" | tee -a "$OUT/results.txt"
    if [[ -n $BEFORE ]]; then
      load --target="127.0.0.1:$BEFORE_PORT" --mode=sample --setup=false \
        --concurrency="$c" --duration="$DURATION" --server_pid="$BEFORE_PID" \
        --label="sample_before_c$c" | tee -a "$OUT/results.txt"
    fi
    load --target="127.0.0.1:$PORT" --mode=sample --setup=false \
      --concurrency="$c" --duration="$DURATION" --server_pid="$SERVER" \
      --label="sample_c$c" | tee -a "$OUT/results.txt"
    if [[ -n $EXTRA_FLAGS ]]; then
      load --target="127.0.0.1:$EXTRA_PORT" --mode=sample --setup=false \
        --concurrency="$c" --duration="$DURATION" --server_pid="$EXTRA_PID" \
        --label="sample_extra_c$c" | tee -a "$OUT/results.txt"
    fi
  done
  echo "-- round $round done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
done

python3 - "$OUT/results.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)_c(\d+)\s+(\d+)/s.*p50\s+([\d.]+).*server CPU\s+([\d.]+) us", line)
    if m:
        runs.setdefault((m[1], int(m[2])), []).append(
            (float(m[3]), float(m[4]), float(m[5])))
med = {k: [statistics.median(x[i] for x in v) for i in range(3)]
       for k, v in runs.items()}
names = [n for n in ("echo_cb", "echo_async", "sample_before", "sample",
                     "sample_extra")
         if any(k[0] == n for k in med)]
print("\nmedians of %d rounds: calls/s, server CPU us/call, CPU/call against "
      "echo_cb and echo_async, and calls/s against them" %
      max(len(v) for v in runs.values()))
print("%-4s %-14s %10s %10s %9s %9s %9s %9s" % (
    "c", "server", "calls/s", "us/call", "cpu/cb", "cpu/async", "rate/cb",
    "rate/async"))
for c in sorted({k[1] for k in med}):
    cb, asy = med.get(("echo_cb", c)), med.get(("echo_async", c))
    for n in names:
        r = med.get((n, c))
        if not r:
            continue
        print("%-4d %-14s %10.0f %10.1f %8.2fx %8.2fx %8.2fx %8.2fx" % (
            c, n, r[0], r[2], r[2] / cb[2] if cb else 0,
            r[2] / asy[2] if asy else 0, r[0] / cb[0] if cb else 0,
            r[0] / asy[0] if asy else 0))

# Ratios within each round (servers run one after the other in a round),
# then their median: steadier than a ratio of medians when the machine's
# speed drifts between rounds.
pairs = [("sample", "echo_async"), ("sample", "sample_before"),
         ("sample_extra", "sample"), ("sample_extra", "echo_async")]
print("\nper-round ratios (calls/s; server CPU per call), median [range]")
for c in sorted({k[1] for k in runs}):
    for a, b in pairs:
        x, y = runs.get((a, c)), runs.get((b, c))
        if not x or not y:
            continue
        rate = [p[0] / q[0] for p, q in zip(x, y)]
        cpu = [p[2] / q[2] for p, q in zip(x, y)]
        print("%-4d %-27s %5.2fx [%.2f-%.2f]; cpu %5.2fx [%.2f-%.2f]" % (
            c, a + "/" + b, statistics.median(rate), min(rate), max(rate),
            statistics.median(cpu), min(cpu), max(cpu)))
PY
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# gRPC load test against a freshly started banditd on loopback:
#   * Sample: 100 arms, UCB1, 5 context items, k=1;
#   * Feedback: one event per call (a view and sometimes a click);
# each at 1, 8, 32 and 128 concurrent calls, printing throughput and p50/p99;
# then Sample at half its peak rate (open loop), printing p99. Two load
# generators, one after the other, side by side:
#   * banditd_grpc_load (bench/grpc_load.cc): C++ callback API, concurrency/8
#     connections; costs the shared cores little, so it measures the server;
#   * ghz (the standard tool; one connection): about 100 us of CPU per call
#     on the same cores, so its figures are bound by itself.
#   scripts/bench_grpc.sh
# Environment: BANDITD (build/banditd), LOAD (banditd_grpc_load beside
# BANDITD's build, or build/bench/...), PORT (50151), DURATION (5s per run),
# CONCURRENCY ("1 8 32 128"), CONNECTIONS (1, for ghz), GHZ_RUNS (1; 0 skips
# ghz), SERVER_FLAGS (extra banditd flags, e.g. --decision_cache_size=0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BANDITD=${BANDITD:-build/banditd}
PORT=${PORT:-50151}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-"1 8 32 128"}
CONNECTIONS=${CONNECTIONS:-1}
GHZ_RUNS=${GHZ_RUNS:-1}
SERVER_FLAGS=${SERVER_FLAGS:-}
if [[ -z ${LOAD:-} ]]; then
  LOAD=$(dirname "$BANDITD")/bench/banditd_grpc_load
  [[ -x $LOAD ]] || LOAD=$(dirname "$(dirname "$BANDITD")")/bench/banditd_grpc_load
fi
GHZ=.tools/bin/ghz
GRPCURL=.tools/bin/grpcurl
ADDR=127.0.0.1:$PORT
PROTO=(-import-path proto -proto banditd/v1/banditd.proto)
SERVICE=banditd.v1.BanditService

[[ -x $GHZ && -x $GRPCURL ]] || { echo "run scripts/setup.sh first" >&2; exit 1; }
[[ -x $BANDITD ]] || { echo "no $BANDITD: run scripts/build.sh" >&2; exit 1; }
[[ -x $LOAD ]] || { echo "no $LOAD: build the banditd_grpc_load target" >&2; exit 1; }

DATA=$(mktemp -d)
OUT=$(mktemp -d)
# shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
"$BANDITD" --host=127.0.0.1 --port="$PORT" --data_dir="$DATA" $SERVER_FLAGS \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
  echo "(ghz reports and the server log are in $OUT)"
}
trap cleanup EXIT

call() {  # call METHOD JSON
  "$GRPCURL" -plaintext "${PROTO[@]}" -d "$2" "$ADDR" "$SERVICE/$1" >/dev/null
}
for _ in $(seq 100); do
  call ListRooms '{}' 2>/dev/null && break
  sleep 0.1
done

# A room of 100 arms with UCB1, each arm seen in the whole room and under each
# of the 5 context items, so Sample reads 6 counter tables.
ITEMS='["hour=13","device=ios","country=fr","page=home","plan=free"]'
ARMS=$(python3 -c 'import json; print(json.dumps(["arm_%d" % i for i in range(100)]))')
call CreateRoom "{\"room_id\":\"bench\",\"arm_ids\":$ARMS,\"policy\":{\"type\":\"POLICY_TYPE_UCB1\"}}"
EVENTS=$(python3 -c "
import json, random
random.seed(1)
items = json.loads('$ITEMS')
print(json.dumps({'events': [{'room_id': 'bench', 'arm_id': 'arm_%d' % i,
    'context_items': items, 'views': v, 'clicks': random.randint(0, v // 10)}
    for i in range(100) for v in [random.randint(100, 1000)]]}))")
call Feedback "$EVENTS"

SAMPLE="{\"room_id\":\"bench\",\"k\":1,\"context_items\":$ITEMS,\"policy\":{\"type\":\"POLICY_TYPE_UCB1\"}}"
# Arms arm_0..arm_99 only: the request number modulo 100 via a template.
FEEDBACK='{"events":[{"room_id":"bench","arm_id":"arm_{{ mod .RequestNumber 100 }}","views":1}]}'

server_cpu_ticks() {  # utime + stime of the server, in clock ticks
  awk '{print $14 + $15}' "/proc/$SERVER/stat"
}

run() {  # run NAME METHOD JSON CONCURRENCY [extra ghz flags]
  local name=$1 method=$2 data=$3 c=$4
  shift 4
  local ticks_before
  ticks_before=$(server_cpu_ticks)
  "$GHZ" --insecure --import-paths=proto --proto=proto/banditd/v1/banditd.proto --call "$SERVICE/$method" -d "$data" \
    -c "$c" --connections="$CONNECTIONS" -z "$DURATION" --format=json "$@" \
    "$ADDR" >"$OUT/$name.json" 2>"$OUT/$name.err" || true
  local ticks=$(( $(server_cpu_ticks) - ticks_before ))
  python3 - "$OUT/$name.json" "$name" "$ticks" "$(getconf CLK_TCK)" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("%-26s ghz failed: %s" % (sys.argv[2], e)); sys.exit(0)
p = {d["percentage"]: d["latency"] / 1e6 for d in r.get("latencyDistribution") or []}
codes = r.get("statusCodeDistribution", {})
errors = sum(v for k, v in codes.items() if k != "OK")
ok = codes.get("OK", 0)
server_us = int(sys.argv[3]) / int(sys.argv[4]) * 1e6 / max(ok, 1)
print("%-26s %8.0f/s  p50 %7.3f ms  p99 %7.3f ms  calls %7d  not OK %3d"
      "  server CPU %5.1f us/call" % (
    sys.argv[2], r["rps"], p.get(50, float("nan")), p.get(99, float("nan")),
    r["count"], errors, server_us))
open(sys.argv[1] + ".rps", "w").write("%f" % r["rps"])
PY
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); server $BANDITD $SERVER_FLAGS; ${DURATION} per run"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# banditd_grpc_load: the room exists already (--setup=false). Its line ends
# with the client's and the server's CPU time per call.
load() {  # load NAME MODE [flags]
  local name=$1 mode=$2
  shift 2
  "$LOAD" --target="$ADDR" --mode="$mode" --duration="$DURATION" \
    --setup=false --server_pid="$SERVER" --label="$name" "$@" \
    | tee "$OUT/$name.txt" || true
}
echo "-- banditd_grpc_load (C++ callback client, concurrency/8 connections)"
PEAK=0
for c in $CONCURRENCY; do
  load "sample_c$c" sample --concurrency="$c"
  rps=$(awk '{sub("/s", "", $2); print $2 + 0}' "$OUT/sample_c$c.txt" 2>/dev/null || echo 0)
  if python3 -c "import sys; sys.exit(0 if ${rps:-0} > $PEAK else 1)"; then
    PEAK=$rps
  fi
done
HALF=$(python3 -c "print(max(1, int($PEAK / 2)))")
load "sample_half_peak_${HALF}rps" sample --rate="$HALF"
for c in $CONCURRENCY; do
  load "feedback_c$c" feedback --concurrency="$c"
done

(( GHZ_RUNS > 0 )) || exit 0
echo "-- ghz ($CONNECTIONS connection(s))"
echo "(not OK: calls in flight when ghz closes its connection at the end of"
echo " a timed run fail as UNAVAILABLE; see $OUT/*.json for any other code)"
PEAK=0
PEAK_C=1
for c in $CONCURRENCY; do
  run "ghz_sample_c$c" Sample "$SAMPLE" "$c"
  rps=$(cat "$OUT/ghz_sample_c$c.json.rps" 2>/dev/null || echo 0)
  if python3 -c "import sys; sys.exit(0 if $rps > $PEAK else 1)"; then
    PEAK=$rps
    PEAK_C=$c
  fi
done
HALF=$(python3 -c "print(max(1, int($PEAK / 2)))")
run "ghz_sample_half_peak_${HALF}rps" Sample "$SAMPLE" "$PEAK_C" --rps="$HALF"
for c in $CONCURRENCY; do
  run "ghz_feedback_c$c" Feedback "$FEEDBACK" "$c"
done

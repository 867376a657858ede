#!/usr/bin/env bash
# gRPC load test with ghz against a freshly started banditd on loopback:
#   * Sample: 100 arms, UCB1, 5 context items, k=1;
#   * Feedback: one event per call (a view and sometimes a click);
# each at 1, 8, 32 and 128 concurrent calls (one connection), printing
# throughput and p50/p99; then Sample at half its peak rate, printing p99.
#   scripts/bench_grpc.sh
# Environment: BANDITD (build/banditd), PORT (50151), DURATION (5s per run),
# CONCURRENCY ("1 8 32 128"), CONNECTIONS (1).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BANDITD=${BANDITD:-build/banditd}
PORT=${PORT:-50151}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-"1 8 32 128"}
CONNECTIONS=${CONNECTIONS:-1}
GHZ=.tools/bin/ghz
GRPCURL=.tools/bin/grpcurl
ADDR=127.0.0.1:$PORT
PROTO=(-import-path proto -proto banditd/v1/banditd.proto)
SERVICE=banditd.v1.BanditService

[[ -x $GHZ && -x $GRPCURL ]] || { echo "run scripts/setup.sh first" >&2; exit 1; }
[[ -x $BANDITD ]] || { echo "no $BANDITD: run scripts/build.sh" >&2; exit 1; }

DATA=$(mktemp -d)
OUT=$(mktemp -d)
"$BANDITD" --host=127.0.0.1 --port="$PORT" --data_dir="$DATA" \
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

echo "(not OK: calls in flight when ghz closes its connection at the end of"
echo " a timed run fail as UNAVAILABLE; see $OUT/*.json for any other code)"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); server $BANDITD; ${DURATION} per run; $CONNECTIONS connection(s)"
PEAK=0
PEAK_C=1
for c in $CONCURRENCY; do
  run "sample_c$c" Sample "$SAMPLE" "$c"
  rps=$(cat "$OUT/sample_c$c.json.rps" 2>/dev/null || echo 0)
  if python3 -c "import sys; sys.exit(0 if $rps > $PEAK else 1)"; then
    PEAK=$rps
    PEAK_C=$c
  fi
done
HALF=$(python3 -c "print(max(1, int($PEAK / 2)))")
run "sample_half_peak_${HALF}rps" Sample "$SAMPLE" "$PEAK_C" --rps="$HALF"
for c in $CONCURRENCY; do
  run "feedback_c$c" Feedback "$FEEDBACK" "$c"
done

#!/usr/bin/env bash
# HTTP/JSON API against gRPC, one freshly started banditd, same run:
#   * Sample: room "bench" (100 arms, UCB1), k = 1 with 5 context items;
#   * Feedback: one event per call (one view on arm_<n mod 100>);
# at CONCURRENCY concurrent calls: gRPC with bench/grpc_load.cc (C++ callback
# client), HTTP with wrk (Debian's; Lua scripts in bench/http/), kept-alive
# connections, one per concurrent call. Prints throughput, latency and the
# HTTP/gRPC ratio.
#   scripts/bench_http.sh
# Environment: BANDITD (build/banditd), LOAD (build/bench/banditd_grpc_load),
# PORT (50161), HTTP_PORT (8161), DURATION (5s), CONCURRENCY ("1 32"),
# SERVER_FLAGS (extra banditd flags).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BANDITD=${BANDITD:-build/banditd}
LOAD=${LOAD:-build/bench/banditd_grpc_load}
PORT=${PORT:-50161}
HTTP_PORT=${HTTP_PORT:-8161}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-"1 32"}
SERVER_FLAGS=${SERVER_FLAGS:-}
command -v wrk >/dev/null || { echo "no wrk: run scripts/setup.sh" >&2; exit 1; }
[[ -x $BANDITD ]] || { echo "no $BANDITD: run scripts/build.sh" >&2; exit 1; }
[[ -x $LOAD ]] || { echo "no $LOAD: build the banditd_grpc_load target" >&2; exit 1; }

DATA=$(mktemp -d)
OUT=$(mktemp -d)
# shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
"$BANDITD" --port="$PORT" --http_port="$HTTP_PORT" --data_dir="$DATA" \
  $SERVER_FLAGS >"$OUT/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
  echo "(wrk and load outputs, server log: $OUT)"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -sf "localhost:$HTTP_PORT/openapi.json" >/dev/null && break
  sleep 0.1
done
# Creates and feeds the room (a short run with --setup).
"$LOAD" --target="127.0.0.1:$PORT" --mode=sample --duration=1s --concurrency=1 \
  --label=setup >/dev/null

echo "== machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION} per run"
grpc() {  # grpc MODE C -> calls/s
  "$LOAD" --target="127.0.0.1:$PORT" --mode="$1" --concurrency="$2" \
    --duration="$DURATION" --setup=false --server_pid="$SERVER" \
    --label="grpc_$1_c$2" >"$OUT/grpc_$1_c$2.txt"
  awk '{sub("/s", "", $2); print $2 + 0}' "$OUT/grpc_$1_c$2.txt"
}
http() {  # http MODE C -> calls/s
  local threads=$(( $2 < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$2" -d"$DURATION" --latency -s "bench/http/$1.lua" \
    "http://127.0.0.1:$HTTP_PORT" >"$OUT/http_$1_c$2.txt"
  if ! grep -q "^non-200 0$" "$OUT/http_$1_c$2.txt"; then
    echo "http $1 c$2: replies other than 200, see $OUT/http_$1_c$2.txt" >&2
  fi
  awk '/^Requests\/sec/ {print $2 + 0}' "$OUT/http_$1_c$2.txt"
}
p50() { awk '$1 == "50%" {print $2}' "$OUT/http_$1_c$2.txt"; }
p99() { awk '$1 == "99%" {print $2}' "$OUT/http_$1_c$2.txt"; }

printf '%-10s %5s %12s %12s %7s %12s %12s\n' call conc "gRPC calls/s" \
  "HTTP calls/s" "ratio" "HTTP p50" "HTTP p99"
for mode in sample feedback; do
  for c in $CONCURRENCY; do
    g=$(grpc "$mode" "$c")
    h=$(http "$mode" "$c")
    printf '%-10s %5s %12.0f %12.0f %7.2f %12s %12s\n' "$mode" "$c" "$g" "$h" \
      "$(python3 -c "print($h / max($g, 1))")" "$(p50 "$mode" "$c")" \
      "$(p99 "$mode" "$c")"
  done
done

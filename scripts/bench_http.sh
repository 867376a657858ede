#!/usr/bin/env bash
# HTTP/JSON API against gRPC, one freshly started banditd, same run:
#   * Sample: room "bench" (100 arms, UCB1), k = 1 with 5 context items;
#   * Feedback: one event per call (one view on arm_<n mod 100>);
# at CONCURRENCY concurrent calls: gRPC with bench/grpc_load.cc (C++ callback
# client), HTTP with wrk (Debian's; Lua scripts in bench/http/), kept-alive
# connections, one per concurrent call. ROUNDS rounds alternate which path
# runs first; prints each run (throughput, p50, server CPU per call) and the
# median HTTP/gRPC ratio of the rounds.
#   scripts/bench_http.sh
# Environment: BANDITD (build/banditd), LOAD (build/bench/banditd_grpc_load),
# PORT (50161), HTTP_PORT (8161), DURATION (5s), CONCURRENCY ("1 32"),
# MODES ("sample feedback"), ROUNDS (3), SERVER_FLAGS (extra banditd flags).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BANDITD=${BANDITD:-build/banditd}
LOAD=${LOAD:-build/bench/banditd_grpc_load}
PORT=${PORT:-50161}
HTTP_PORT=${HTTP_PORT:-8161}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-"1 32"}
MODES=${MODES:-"sample feedback"}
ROUNDS=${ROUNDS:-3}
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

server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK=$(getconf CLK_TCK)
# grpc MODE C FILE: one gRPC run; FILE gets "calls/s p50_ms server_us/call".
grpc() {
  "$LOAD" --target="127.0.0.1:$PORT" --mode="$1" --concurrency="$2" \
    --duration="$DURATION" --setup=false --server_pid="$SERVER" \
    --label="grpc_$1_c$2" >"$3.txt"
  awk '{sub("/s", "", $2); for (i = 1; i <= NF; i++) {
          if ($i == "p50") p50 = $(i + 1);
          if ($i == "server") cpu = $(i + 2) }
        print $2 + 0, p50, cpu}' "$3.txt" >"$3"
}
# http MODE C FILE: one wrk run, same FILE format.
http() {
  local threads=$(( $2 < 2 ? 1 : 2 )) before after
  before=$(server_ticks)
  wrk -t"$threads" -c"$2" -d"$DURATION" --latency -s "bench/http/$1.lua" \
    "http://127.0.0.1:$HTTP_PORT" >"$3.txt"
  after=$(server_ticks)
  if ! grep -q "^non-200 0$" "$3.txt"; then
    echo "http $1 c$2: replies other than 200, see $3.txt" >&2
  fi
  # wrk's time run includes its warm-up; CPU per call over all its requests.
  awk -v ticks=$((after - before)) -v hz="$TICK" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                     if (v ~ /s$/) return v * 1000; return v }
    / requests in / { n = $1 }
    /^Requests\/sec/ { rate = $2 }
    $1 == "50%" { p50 = ms($2) }
    END { printf "%.0f %.3f %.1f\n", rate, p50, ticks / hz * 1e6 / n }' \
    "$3.txt" >"$3"
}

echo "== machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION} per run, $ROUNDS rounds"
printf '%-9s %4s %5s %10s %10s %7s %8s %8s %8s %8s\n' call conc round \
  "gRPC /s" "HTTP /s" ratio "gRPC p50" "HTTP p50" "gRPC us" "HTTP us"
for mode in $MODES; do
  for c in $CONCURRENCY; do
    ratios=()
    for round in $(seq "$ROUNDS"); do
      f="$OUT/${mode}_c${c}_r$round"
      if (( round % 2 )); then
        grpc "$mode" "$c" "$f.grpc"; http "$mode" "$c" "$f.http"
      else
        http "$mode" "$c" "$f.http"; grpc "$mode" "$c" "$f.grpc"
      fi
      read -r g gp gu <"$f.grpc"
      read -r h hp hu <"$f.http"
      r=$(python3 -c "print(f'{$h / max($g, 1):.2f}')")
      ratios+=("$r")
      printf '%-9s %4s %5s %10.0f %10.0f %7s %8s %8s %8s %8s\n' "$mode" "$c" \
        "$round" "$g" "$h" "$r" "$gp" "$hp" "$gu" "$hu"
    done
    echo "$mode c=$c: HTTP/gRPC median $(printf '%s\n' "${ratios[@]}" | sort -n |
      awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}') (rounds: ${ratios[*]})"
  done
done
echo "== load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"

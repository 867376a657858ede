#!/usr/bin/env bash
# Feedback latency to a small room while other clients scan a 1M-arm room
# (issue 12, "Writes are not held hostage by one big room"): runs
# bench/neighbour.cc against a fresh banditd. Each round measures Feedback
# alone (the floor) and then beside NEIGHBOURS clients looping Sample
# (k = SAMPLE_K) and paging GetStats through the big room, so the ratio
# compares phases of one run.
#   nice -n 10 scripts/bench_neighbour.sh
# Environment: BUILD (build), ARMS (1000000), ROUNDS (3), PHASE (5s),
# INTERVAL (2ms between Feedback calls), SAMPLE_K (10), NEIGHBOURS (1 pair:
# a Sample loop and a GetStats loop), BIG_FEEDBACK (0s; e.g. 10ms: the big
# room is written too, one event per interval), PORT (50181), BANDITD (the
# server binary, default $BUILD/server/banditd: alternate an older one),
# SERVER_FLAGS (default --durability=async: the apply path, not the disk's
# sync, is what a neighbour could hold up; add --big_room_arms=0 for the
# behaviour before the big-room read pool and write queues).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
ARMS=${ARMS:-1000000}
ROUNDS=${ROUNDS:-3}
PHASE=${PHASE:-5s}
INTERVAL=${INTERVAL:-2ms}
BIG_FEEDBACK=${BIG_FEEDBACK:-0s}
NEIGHBOURS=${NEIGHBOURS:-1}
SAMPLE_K=${SAMPLE_K:-10}
PORT=${PORT:-50181}
SERVER_FLAGS=${SERVER_FLAGS:---durability=async}
BANDITD=${BANDITD:-$BUILD/server/banditd}
[[ -x $BANDITD ]] || BANDITD=$BUILD/banditd
LOAD=$BUILD/bench/banditd_neighbour
for bin in "$BANDITD" "$LOAD"; do
  [[ -x $bin ]] || { echo "no $bin: build banditd and banditd_neighbour" >&2; exit 1; }
done

DATA=$(mktemp -d)
# shellcheck disable=SC2086  # a flag list
"$BANDITD" --host=127.0.0.1 --port="$PORT" --data_dir="$DATA" --metrics_port=0 \
  $SERVER_FLAGS >"$DATA/banditd.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 300); do
  grep -q "serving on" "$DATA/banditd.log" && break
  sleep 0.1
done
grep -q "serving on" "$DATA/banditd.log" || { cat "$DATA/banditd.log"; exit 1; }

echo "== machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== banditd $SERVER_FLAGS; $ARMS-arm room; $ROUNDS rounds of $PHASE floor + $PHASE beside $NEIGHBOURS neighbour(s); Feedback every $INTERVAL"
"$LOAD" --target="127.0.0.1:$PORT" --big_arms="$ARMS" --rounds="$ROUNDS" \
  --phase="$PHASE" --feedback_interval="$INTERVAL" --neighbours="$NEIGHBOURS" \
  --big_feedback_interval="$BIG_FEEDBACK" --sample_k="$SAMPLE_K"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

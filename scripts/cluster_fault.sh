#!/usr/bin/env bash
# Write availability through one NATS node failure, on loopback: for each
# fault, a fresh 3-node NATS cluster and 3 banditd replicas under a steady
# Feedback load (50 calls/s per replica, unique event_ids), one fault, then
# the longest write gap, the errors clients saw and exactly-once totals
# (scripts/cluster_fault.py does one run; figures in docs/BENCHMARKS.md).
#
#   scripts/cluster_fault.sh            # every fault, nats-server-tuned
#   FAULTS="kill-stream-leader" RUNS=3 scripts/cluster_fault.sh
#   NATS_SERVER=.tools/bin/nats-server scripts/cluster_fault.sh  # stock 2.14
#   NATS_SERVER=/usr/sbin/nats-server scripts/cluster_fault.sh   # Debian's
#   scripts/cluster_fault.sh --nats-flag=--raft_election_timeout_min=1s
#   NATS_CONF=default scripts/cluster_fault.sh     # NATS's default liveness
#
# Each run takes about 35 s and is niced; exits non-zero if any run lost or
# double-counted an event. RESULTS=<file> appends each run's JSON line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
NATS_SERVER=${NATS_SERVER:-$ROOT/.tools/bin/nats-server-tuned}
[[ -x $NATS_SERVER ]] || NATS_SERVER=$(command -v nats-server-tuned || command -v nats-server || true)
[[ -x $NATS_SERVER ]] || { echo "nats-server is missing: run scripts/setup.sh" >&2; exit 1; }
BANDITD=${BANDITD:-build/banditd}
[[ -x $BANDITD ]] || bash scripts/build.sh
FAULTS=${FAULTS:-"kill-stream-leader stop-stream-leader kill-meta-leader stop-meta-leader kill-follower stop-follower"}
LIVENESS=(--nats-ping-interval 500ms --nats-write-deadline 1s)
if [[ ${NATS_CONF:-} == default ]]; then LIVENESS=(); fi

echo "nats-server: $("$NATS_SERVER" --version)"
status=0
for _ in $(seq "${RUNS:-1}"); do
  for fault in $FAULTS; do
    nice -n 10 timeout 300 .venv/bin/python scripts/cluster_fault.py \
      --nats-server "$NATS_SERVER" --banditd "$BANDITD" --fault "$fault" \
      "${LIVENESS[@]}" "$@" | tee -a "${RESULTS:-/dev/null}" | tail -1 || status=1
  done
done
exit $status

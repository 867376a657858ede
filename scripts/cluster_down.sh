#!/usr/bin/env bash
# Stops the cluster that scripts/cluster_up.sh started (banditd replicas
# first, then NATS) and removes its temporary directory; KEEP=1 keeps it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STATE=${CLUSTER_STATE:-/tmp/banditd-cluster-$(id -u).dir}
[[ -f $STATE ]] || { echo "no cluster is up" >&2; exit 0; }
DIR=$(cat "$STATE")
stop() {
  local pidfile=$1 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
for i in 0 1 2; do stop "$DIR/banditd$i.pid"; done
for i in 0 1 2; do stop "$DIR/nats$i.pid"; done
if [[ ${KEEP:-0} == 1 ]]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
rm -f "$STATE"
echo "cluster down"

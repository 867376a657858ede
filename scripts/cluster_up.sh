#!/usr/bin/env bash
# Starts a local banditd cluster on loopback: a 3-node NATS cluster with
# JetStream and 3 banditd replicas sharing one R3 stream. Everything lives
# in a temporary directory (printed, and recorded in
# /tmp/banditd-cluster-$UID.dir); stop it with
# scripts/cluster_down.sh.
#
#   scripts/cluster_up.sh                # builds build/banditd if missing
#   BANDITD=build-x/banditd scripts/cluster_up.sh
#   NATS_SERVER=/usr/sbin/nats-server scripts/cluster_up.sh   # stock NATS
#
# Ports (override the bases with NATS_PORT / CLUSTER_PORT / GRPC_PORT /
# METRICS_PORT): NATS clients 14222-14224, NATS routes 16222-16224, banditd
# gRPC 15061-15063, /metrics and dashboard 9161-9163. All below Linux's
# ephemeral range (32768-60999): a replica connects to NATS before it binds
# its gRPC port, and its own connection could hold that port as its source.
# Extra arguments are passed to every banditd replica.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# Where the running cluster's directory is recorded.
STATE=${CLUSTER_STATE:-/tmp/banditd-cluster-$(id -u).dir}
NATS_PORT=${NATS_PORT:-14222}
CLUSTER_PORT=${CLUSTER_PORT:-16222}
GRPC_PORT=${GRPC_PORT:-15061}
METRICS_PORT=${METRICS_PORT:-9161}
BANDITD=${BANDITD:-build/banditd}

# $NATS_SERVER, else nats-server-tuned (the pinned release with fast Raft
# failover, docs/SCALING.md "NATS build"), else the pinned release, else
# Debian's: scripts/setup.sh builds and installs the first two in .tools/bin.
export PATH=$ROOT/.tools/bin:$PATH
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server-tuned || command -v nats-server || true)}
[[ -n $NATS_SERVER ]] || {
  echo "nats-server is missing: run scripts/setup.sh" >&2; exit 1; }
if [[ ! -x $BANDITD ]]; then bash scripts/build.sh; fi
if [[ -f $STATE ]] && [[ -d $(cat "$STATE") ]]; then
  echo "a cluster is already up in $(cat "$STATE"); run scripts/cluster_down.sh" >&2
  exit 1
fi

DIR=$(mktemp -d /tmp/banditd-cluster.XXXXXX)
echo "$DIR" > "$STATE"

routes=""
for i in 0 1 2; do
  routes+="${routes:+,}nats://127.0.0.1:$((CLUSTER_PORT + i))"
done
urls=""
for i in 0 1 2; do
  mkdir -p "$DIR/nats$i"
  # Liveness: a paused node is dropped from routes and clients after two
  # unanswered pings (1 s) instead of NATS's default 4 minutes; see
  # docs/SCALING.md, "Available".
  printf 'ping_interval: "500ms"\nping_max: 2\nwrite_deadline: "1s"\n' \
    > "$DIR/nats$i.conf"
  "$NATS_SERVER" -c "$DIR/nats$i.conf" -a 127.0.0.1 -p $((NATS_PORT + i)) -n "nats$i" -js \
    -sd "$DIR/nats$i" --cluster_name banditd \
    --cluster "nats://127.0.0.1:$((CLUSTER_PORT + i))" --routes "$routes" \
    > "$DIR/nats$i.log" 2>&1 &
  echo $! > "$DIR/nats$i.pid"
  urls+="${urls:+,}nats://127.0.0.1:$((NATS_PORT + i))"
done

# Wait until JetStream is ready on every node (a meta leader is elected).
for i in 0 1 2; do
  for _ in $(seq 100); do
    if grep -q "JetStream cluster new metadata leader\|Self is new JetStream cluster metadata leader" "$DIR"/nats*.log 2>/dev/null &&
       grep -q "Server is ready" "$DIR/nats$i.log"; then break; fi
    sleep 0.1
  done
done

for i in 0 1 2; do
  mkdir -p "$DIR/banditd$i"
  # Replica i connects to NATS node i first, then fails over to the others.
  mine="nats://127.0.0.1:$((NATS_PORT + i))"
  others=$(echo "$urls" | tr ',' '\n' | grep -v "^$mine\$" | paste -sd,)
  "$ROOT/$BANDITD" --port=$((GRPC_PORT + i)) --data_dir="$DIR/banditd$i" \
    --metrics_port=$((METRICS_PORT + i)) --cluster_nats="$mine,$others" "$@" \
    > "$DIR/banditd$i.log" 2>&1 &
  echo $! > "$DIR/banditd$i.pid"
done
for i in 0 1 2; do
  for _ in $(seq 300); do
    grep -q "serving on" "$DIR/banditd$i.log" && break
    if ! kill -0 "$(cat "$DIR/banditd$i.pid")" 2>/dev/null; then
      echo "banditd$i exited; its log:" >&2; cat "$DIR/banditd$i.log" >&2; exit 1
    fi
    sleep 0.1
  done
done

echo "cluster up in $DIR"
echo "  NATS:    $urls ($("$NATS_SERVER" --version))"
for i in 0 1 2; do
  echo "  banditd$i: 127.0.0.1:$((GRPC_PORT + i))  metrics http://127.0.0.1:$((METRICS_PORT + i))/metrics  log $DIR/banditd$i.log"
done
echo "stop it with scripts/cluster_down.sh"

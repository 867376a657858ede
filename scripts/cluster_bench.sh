#!/usr/bin/env bash
# Cluster benchmark (issue 8): Feedback and Sample throughput through gRPC
# with 1 and 3 banditd replicas on a local 3-node NATS JetStream cluster (R3
# stream), and replication lag under Feedback load. Results go in
# docs/BENCHMARKS.md ("## Cluster").
# Environment: BUILD_DIR (build-cluster), BENCH_SECONDS (5 per point),
# BENCH_THREADS (16 clients), BENCH_BATCH (10 events per Feedback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build-cluster}
if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" -j2 --target cluster_test banditd
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
CLUSTER_BENCH=1 "$BUILD_DIR/tests/cluster/cluster_test" \
  --gtest_filter='ClusterBench.*:SnapshotObjectBench.*:StreamsBench.*:RepublishBench.*' | grep -E '^BENCH|FAILED|OK \]'

#!/usr/bin/env bash
# Reruns every benchmark: the core (Sample per policy and arm count beside
# the memory-bandwidth floor, room memory), gRPC load against banditd, and
# the store (when scripts/bench_store.sh exists). Figures and how to read
# them: docs/BENCHMARKS.md.
#   scripts/bench.sh
# Environment: see scripts/bench_core.sh, scripts/bench_grpc.sh and
# scripts/bench_store.sh; the gRPC run uses the Release server of build-perf
# unless BANDITD is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export BUILD_DIR=${BUILD_DIR:-build-perf}
bash scripts/setup.sh
bash scripts/bench_core.sh
cmake --build "$BUILD_DIR" -j2 --target banditd
BANDITD=${BANDITD:-$BUILD_DIR/server/banditd} bash scripts/bench_grpc.sh
if [[ -f scripts/bench_store.sh ]]; then
  bash scripts/bench_store.sh
fi

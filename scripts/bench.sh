#!/usr/bin/env bash
# Reruns every benchmark: the core (Sample per policy and arm count beside
# the memory-bandwidth floor, room memory) and gRPC load against banditd.
# Figures and how to read them: docs/BENCHMARKS.md.
#   scripts/bench.sh
# Environment: see scripts/bench_core.sh and scripts/bench_grpc.sh; the gRPC
# run uses the Release server of build-perf unless BANDITD is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build-perf}
bash scripts/setup.sh
bash scripts/bench_core.sh
cmake --build "$BUILD_DIR" -j2 --target banditd
BANDITD=${BANDITD:-$BUILD_DIR/server/banditd} bash scripts/bench_grpc.sh
# Other benchmark programs (for example the store's) in the same tree.
for program in "$BUILD_DIR"/bench/*_bench; do
  case $(basename "$program") in core_bench) continue ;; esac
  [[ -x $program ]] || continue
  cmake --build "$BUILD_DIR" -j2 --target "$(basename "$program")"
  echo "== $(basename "$program")"
  "$program" --benchmark_min_time=0.2
done

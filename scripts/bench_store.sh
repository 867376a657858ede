#!/usr/bin/env bash
# Store benchmarks (issue 3): durable Feedback throughput at 1, 8 and 64
# clients with batches of 1 and 1,000 events beside SQLite's own ceiling for
# the same records; recovery time of a 10-million-event log; snapshot pause
# at 1,000,000 counters. Results go in docs/BENCHMARKS.md ("## Store").
#   scripts/bench_store.sh [store_bench flags, e.g. --seconds=5 --quick]
# Environment: BUILD_DIR (build-perf), BENCH_DIR (data directory; use one on
# the disk you want to measure, default /tmp/store_bench).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build-perf}
BENCH_DIR=${BENCH_DIR:-/tmp/store_bench}

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j2 --target store_bench

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== disk: $(df -h "$(dirname "$BENCH_DIR")" | tail -1 | awk '{print $1, $2}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD_DIR/bench/store_bench" --dir="$BENCH_DIR" "$@"

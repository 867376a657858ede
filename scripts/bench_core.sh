#!/usr/bin/env bash
# Core benchmarks: Sample top-10 per policy at 10 to 1,000,000 arms, with 0
# and 5 context items, beside the plain-scan floor (data:2 a cold room, data:3
# a room of 100-view arms: issue 17); then the memory of a 1,000,000-armed
# room in 4 segments. Builds a Release tree in $BUILD_DIR.
#   scripts/bench_core.sh [extra Google Benchmark flags]
# Environment: BUILD_DIR (build-perf), MIN_TIME (0.2 seconds per benchmark),
# REPETITIONS (3; medians are reported).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build-perf}
MIN_TIME=${MIN_TIME:-0.2}
REPETITIONS=${REPETITIONS:-3}

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j2 --target core_bench room_memory

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== core_bench (CPU time, median of $REPETITIONS)"
"$BUILD_DIR/bench/core_bench" --benchmark_min_time="$MIN_TIME" \
  --benchmark_repetitions="$REPETITIONS" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$BUILD_DIR/core_bench.json" --benchmark_out_format=json \
  "$@" | grep -v -E '_(mean|stddev|cv) '

# Ratios of each Sample benchmark to the floor of the same size.
python3 - "$BUILD_DIR/core_bench.json" <<'PY'
import json, sys
runs = [b for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b.get("aggregate_name", "median") == "median"]
def key(name):  # BM_Sample/Ucb1/arms:1000/ctx:5/data:0_median -> (Ucb1, arms:1000/ctx:5/data:0)
    parts = name.replace("_median", "").split("/")
    return (("Floor" if parts[0] == "BM_Floor" else parts[1]),
            "/".join(p for p in parts if ":" in p))
cpu = {key(b["name"]): b["cpu_time"] for b in runs}
allocs = {key(b["name"]): b.get("allocs/call") for b in runs}
sizes = [s for (p, s) in cpu if p == "Floor"]
policies = sorted({p for (p, s) in cpu if p != "Floor"})
print("\n== ratio of Sample top-10 to the floor (CPU time, medians; allocs/call)")
print("%-28s %12s" % ("size", "floor us") + "".join("%18s" % p for p in policies))
for s in sizes:
    row = "%-28s %12.1f" % (s, cpu[("Floor", s)])
    for p in policies:
        if (p, s) in cpu:
            row += "%11.2fx %5.0fa" % (cpu[(p, s)] / cpu[("Floor", s)], allocs[(p, s)] or 0)
    print(row)
PY

echo
echo "== room_memory"
"$BUILD_DIR/bench/room_memory"

#!/usr/bin/env bash
# Costs of the experiment features (issue 15):
#   * Sample throughput through gRPC with the decision log on versus off
#     (banditd_grpc_load: 100 arms, UCB1, k=1, closed loop at CONCURRENCY
#     calls in flight), ROUNDS alternating server processes each, medians
#     of throughput and of server CPU per call (the steadier figure on a
#     shared machine); with BEFORE=<another banditd> its off/on rounds
#     alternate with these, for a before/after in the same run;
#   * the core benchmark build/bench/experiments_bench: GetStats alone and
#     with winner analysis at 100 and 10,000 arms, Sample with and without
#     propensities.
#   nice -n 10 scripts/bench_experiments.sh
# Environment: BANDITD (build/banditd), PORT (50171), DURATION (5s),
# CONCURRENCY (32), ROUNDS (3), BEFORE (unset), CORE (the core benchmark;
# CORE=true skips it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BANDITD=${BANDITD:-build/banditd}
LOAD=${LOAD:-build/bench/banditd_grpc_load}
CORE=${CORE:-build/bench/experiments_bench}
PORT=${PORT:-50171}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-32}
ROUNDS=${ROUNDS:-3}
OUT=$(mktemp -d)

echo "== $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
MODES=(off on)
[[ -n ${BEFORE:-} ]] && MODES=(before_off before_on off on)
for round in $(seq "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    data=$(mktemp -d)
    flags=()
    [[ $mode == *on ]] && flags=(--decision_log)
    binary=$BANDITD
    [[ $mode == before_* ]] && binary=$BEFORE
    "$binary" --host=127.0.0.1 --port="$PORT" --data_dir="$data" "${flags[@]}" \
      >"$OUT/server-$mode-$round.log" 2>&1 &
    server=$!
    sleep 1
    "$LOAD" --target="127.0.0.1:$PORT" --mode=sample --concurrency="$CONCURRENCY" \
      --duration="$DURATION" --label="log_${mode}_r$round" --server_pid="$server" \
      | tee -a "$OUT/sample.txt"
    kill "$server"
    wait "$server" || true
    rm -rf "$data"
  done
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT/sample.txt" <<'PY'
import re, statistics, sys
rates, cpus = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*log_(\w+)_r\d+\s+([\d.]+)/s.*server CPU\s+([\d.]+) us", line)
    if m:
        rates.setdefault(m.group(1), []).append(float(m.group(2)))
        cpus.setdefault(m.group(1), []).append(float(m.group(3)))
for prefix in ("before_", ""):
    if prefix + "on" not in rates:
        continue
    off = statistics.median(rates[prefix + "off"])
    on = statistics.median(rates[prefix + "on"])
    cpu_off = statistics.median(cpus[prefix + "off"])
    cpu_on = statistics.median(cpus[prefix + "on"])
    print(f"{prefix or 'this '}Sample, decision log off: median {off:.0f}/s, "
          f"server CPU {cpu_off:.1f} us/call; on: median {on:.0f}/s, "
          f"{cpu_on:.1f} us/call; on/off = {on / off:.2f} (target >= 0.80), "
          f"CPU +{cpu_on - cpu_off:.1f} us/call")
PY
"$CORE" --benchmark_min_time=0.5

#!/usr/bin/env bash
# Kafka ingest throughput beside the Feedback RPC at the same batch size
# (docs/BENCHMARKS.md, "Kafka ingest"). Starts its own single-node KRaft
# broker (tests/kafka/broker.py) and fresh servers; needs build/banditd,
# build/bench/banditd_grpc_load and scripts/setup.sh's Kafka jars.
#   nice -n 10 scripts/bench_kafka.sh [--events=200000 --batch=1000 ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/python scripts/bench_kafka.py "$@"

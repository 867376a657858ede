#!/usr/bin/env bash
# RSS per arm of the server process holding a 1M-arm room, after setup and
# after a restart, over gRPC or HTTP (docs/BENCHMARKS.md, "Memory per arm").
# Needs a Release build (scripts/build_server.sh: build-release/server/banditd)
# and the venv (scripts/setup.sh).
#   scripts/bench_server_memory.sh [--api=grpc|http] [--arms=N] [-- FLAGS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/python scripts/bench_server_memory.py "$@"

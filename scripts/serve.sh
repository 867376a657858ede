#!/usr/bin/env bash
# Installs what the server needs (scripts/setup_server.sh), builds it
# optimized (scripts/build_server.sh) and runs it on port 50051 with its data
# in ./data. Extra arguments are passed to banditd, for example
#   scripts/serve.sh --port=6000 --http_port=8080
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_server.sh
bash scripts/build_server.sh
mkdir -p data
exec build-release/server/banditd --port=50051 --data_dir=./data "$@"

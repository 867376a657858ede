#!/usr/bin/env bash
# Installs what is missing, builds, and runs the server on port 50051 with its
# data in ./data. Extra arguments are passed to banditd, for example
#   scripts/serve.sh --port=6000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p data
exec build/banditd --port=50051 --data_dir=./data "$@"

#!/usr/bin/env bash
# Growing a live million-arm room (issue 17): starts banditd with a fresh
# data directory and runs bench/arms/arms_growth.py against it (AddArms and
# RemoveArm of one arm against a GetRoom floor, then a stream of 1,000 new
# arms per second while another process samples).
#   nice -n 10 scripts/bench_arms.sh [arms_growth.py flags]
# Environment: BUILD (build), PORT (50181), SERVER_FLAGS (extra banditd flags).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
PORT=${PORT:-50181}
SERVER_FLAGS=${SERVER_FLAGS:-}
BANDITD=$BUILD/server/banditd
[[ -x $BANDITD ]] || BANDITD=$BUILD/banditd
[[ -x $BANDITD ]] || { echo "no $BANDITD: run scripts/build.sh" >&2; exit 1; }
DATA=$(mktemp -d)
# shellcheck disable=SC2086  # flag list
"$BANDITD" --host=127.0.0.1 --port="$PORT" --data_dir="$DATA" $SERVER_FLAGS \
  >"$DATA.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA" "$DATA.log"
}
trap cleanup EXIT
.venv/bin/python - "$PORT" <<'PY'
import sys, banditd
with banditd.Client(f"127.0.0.1:{sys.argv[1]}") as c:
    c.wait_until_serving(timeout=30)
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
.venv/bin/python bench/arms/arms_growth.py --target="127.0.0.1:$PORT" "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

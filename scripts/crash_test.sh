#!/usr/bin/env bash
# Runs the store crash test for many kill/restart rounds (CI runs 5).
#
#   scripts/crash_test.sh [ROUNDS] [BUILD_DIR]     default: 50 build
#
# Each round drives concurrent Feedback at a real banditd, SIGKILLs it at a
# random moment, restarts it on the same data directory and checks that every
# acknowledged event is counted exactly once. Sync durability runs ROUNDS
# rounds, async ROUNDS/2.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
build="${2:-build}"
if [[ ! -x "$build/tests/store/crash_test" ]]; then
  cmake --build "$build" --target crash_test banditd
fi
CRASH_ROUNDS="$rounds" "$build/tests/store/crash_test"

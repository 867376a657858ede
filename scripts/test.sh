#!/usr/bin/env bash
# Runs every test suite: C++ (ctest), Python client (pytest, including the
# grpcurl and generated-code checks), Go client and tools/nats-server-tuned
# (go test), the HTTP/JSON API (tests/http, pytest against the binary),
# Kafka ingest against a real broker (tests/kafka), the dashboard
# in headless Chromium (tests/dashboard, pytest + Playwright) and the .deb
# (scripts/test_deb.sh: build, dpkg -i, start, purge). Every part runs
# even when an earlier one fails; the exit code is non-zero if any failed.
# The body is one { ... } block so that bash parses all of it before running:
# editing this file while a run is in progress cannot break that run.
{
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export BANDITD_BINARY=${BANDITD_BINARY:-$ROOT/build/banditd}
export PATH=$ROOT/.tools/bin:$PATH
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH=$PATH:/usr/local/go/bin
fi

declare -a NAMES=() RESULTS=()
run_part() {
  local name=$1; shift
  echo
  echo "================ $name ================"
  local start=$SECONDS
  "$@"
  local rc=$?
  NAMES+=("$name")
  if ((rc == 0)); then
    RESULTS+=("PASS ($((SECONDS - start))s)")
  else
    RESULTS+=("FAIL rc=$rc ($((SECONDS - start))s)")
  fi
  return 0
}

part_ctest() {
  [[ -d build ]] || { echo "no build/ directory"; return 1; }
  ctest --test-dir build --output-on-failure -j2 --no-tests=error
}

part_pytest() {
  [[ -x .venv/bin/pytest ]] || { echo ".venv/bin/pytest missing"; return 1; }
  .venv/bin/pytest clients/python/tests -q
  local rc=$?
  if ((rc == 5)); then
    echo "pytest collected no tests: treating as failure"
  fi
  return $rc
}

part_gotest() {
  [[ -f clients/go/go.mod ]] || { echo "clients/go/go.mod missing"; return 1; }
  (cd clients/go && go vet ./... && go test -count=1 ./...) &&
    (cd tools/nats-server-tuned && go vet ./... && go test -count=1 ./...)
}

run_part setup bash scripts/setup.sh
run_part build bash scripts/build.sh
run_part ctest part_ctest
run_part pytest part_pytest
run_part "go test" part_gotest
run_part "http+server+readme" .venv/bin/pytest tests/http tests/server tests/readme -q
run_part hostile .venv/bin/pytest tests/hostile -q
# Kafka ingest against a real single-node broker (tests/kafka/broker.py).
run_part kafka .venv/bin/pytest tests/kafka -q
run_part dashboard .venv/bin/pytest tests/dashboard -q
run_part deb bash scripts/test_deb.sh

echo
echo "================ summary ================"
failed=0
for i in "${!NAMES[@]}"; do
  printf '  %-10s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}"
  [[ ${RESULTS[$i]} == PASS* ]] || failed=$((failed + 1))
done
if ((failed)); then
  echo "test.sh: $failed of ${#NAMES[@]} parts FAILED"
  exit 1
fi
echo "test.sh: all ${#NAMES[@]} parts passed"
exit 0
}

#!/usr/bin/env bash
# Idempotent installer for everything banditd needs to build and test:
#   * Debian packages: the server's (scripts/setup_server.sh: compiler,
#     gRPC/protobuf, Abseil, SQLite...) and the tests' (GoogleTest, Chromium,
#     Prometheus, NATS server, wrk...)
#   * a Python virtualenv at .venv with the pinned dev requirements and the
#     Python client installed in editable mode
#   * pinned Go tools in .tools/bin (grpcurl, ghz, protoc-gen-go,
#     protoc-gen-go-grpc, protoc-gen-openapiv2, and a current nats-server
#     release for cluster mode: Debian's 2.9 stays installed with the C
#     client's package; tests and scripts use the pinned one first via PATH),
#     and nats-server-tuned built from tools/nats-server-tuned (the same
#     release with faster Raft failover; what cluster tests and scripts use)
#   * Apache Kafka's broker jars in .tools/kafka/libs (Maven Central, version
#     pinned in tests/kafka/pom.xml) for the Kafka ingest tests
# A second run is a fast no-op. Safe to run as root (CI) or as a sudoer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

say() { printf '[setup] %s\n' "$*"; }

# ---------------------------------------------------------------- apt
# The server's own packages first (the same list serve.sh installs), then
# what the tests, benchmarks and tools add.
bash scripts/setup_server.sh
APT_PACKAGES=(
  sqlite3 libgtest-dev libgmock-dev libbenchmark-dev clang-format
  # operations (issue 7): promtool, headless browser tests
  prometheus chromium
  # cluster mode (issue 8): NATS JetStream server for the tests
  nats-server
  # Kafka ingest tests: the broker runs from Apache Kafka's jars (fetched
  # below with Maven) on Java 17; Python's confluent-kafka produces.
  maven openjdk-17-jre-headless
  # HTTP/JSON API benchmark (scripts/bench_http.sh); .deb package checks;
  # the README sections the tests run (openssl, curl)
  wrk systemd adduser openssl curl
)
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "apt: ${#APT_PACKAGES[@]} packages present"
fi

# ---------------------------------------------------------------- python
find_python() {
  local c
  for c in python3.11 python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null 2>&1 &&
       "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

REQ=clients/python/requirements-dev.txt
PYPROJECT=clients/python/pyproject.toml
if [[ -f $REQ ]]; then
  stamp_want=$({ cat "$REQ"; if [[ -f $PYPROJECT ]]; then cat "$PYPROJECT"; fi; } | sha256sum | cut -d' ' -f1)
  stamp_file=.venv/.banditd-setup-stamp
  if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import sys' 2>/dev/null &&
     [[ -f $stamp_file && $(cat "$stamp_file") == "$stamp_want" ]]; then
    say "python: .venv up to date"
  else
    if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
      PY=$(find_python) || {
        say "python: no python >= 3.11 found, installing Debian's python3"
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
        PY=$(find_python) || { say "python: need python >= 3.11"; exit 1; }
      }
      say "python: creating .venv with $PY"
      rm -rf .venv
      "$PY" -m venv .venv
    fi
    say "python: installing $REQ"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
    if [[ -f $PYPROJECT ]]; then
      say "python: installing clients/python (editable)"
      .venv/bin/python -m pip install -q --disable-pip-version-check \
        --no-deps --no-build-isolation -e clients/python
    fi
    echo "$stamp_want" >"$stamp_file"
  fi
else
  say "python: $REQ missing, skipping venv"
fi

# ---------------------------------------------------------------- kafka
# A single-node KRaft broker for the Kafka ingest tests and benchmark:
# Apache Kafka's jars from Maven Central (tests/kafka/pom.xml pins the
# version) in .tools/kafka/libs; tests/kafka/broker.py starts kafka.Kafka.
KAFKA_POM=tests/kafka/pom.xml
if [[ -f $KAFKA_POM ]]; then
  kafka_want=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  kafka_stamp=.tools/kafka/.stamp
  if [[ -f $kafka_stamp && $(cat "$kafka_stamp") == "$kafka_want" ]]; then
    say "kafka: broker jars up to date"
  else
    say "kafka: fetching the broker's jars (mvn dependency:copy-dependencies)"
    rm -rf .tools/kafka/libs
    mkdir -p .tools/kafka
    mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$ROOT/.tools/kafka/libs"
    echo "$kafka_want" >"$kafka_stamp"
  fi
fi

# ---------------------------------------------------------------- go tools
# module path @ version ; binary name
GO_TOOLS=(
  "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4"
  "github.com/bojand/ghz/cmd/ghz@v0.120.0"
  "google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12"
  "google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2"
  # The OpenAPI document of the HTTP/JSON API (scripts/gen_clients.sh).
  "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@v2.34.0"
  "github.com/nats-io/nats-server/v2@v2.14.10"
)
GO=$(command -v go || true)
if [[ -z $GO && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
if [[ -z $GO ]]; then
  say "go: not found, installing Debian's golang-go"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq golang-go >/dev/null
  GO=$(command -v go)
fi
mkdir -p .tools/bin
for spec in "${GO_TOOLS[@]}"; do
  pkg=${spec%@*}; ver=${spec##*@}; name=${pkg##*/}
  # A module path ending in a major version (.../nats-server/v2) names its
  # binary after the element before it.
  if [[ $name =~ ^v[0-9]+$ ]]; then name=$(basename "$(dirname "$pkg")"); fi
  bin=.tools/bin/$name
  # `go version -m` prints the main module and its version for a Go binary.
  have=$("$GO" version -m "$bin" 2>/dev/null | awk '$1 == "mod" {print $3; exit}' || true)
  if [[ $have == "$ver" ]]; then
    continue
  fi
  say "go: installing ${pkg##*/} $ver"
  GOBIN=$ROOT/.tools/bin GOFLAGS=-mod=mod "$GO" install "$spec" 2>&1 | { grep -v "^go: downloading" || true; }
done
# nats-server-tuned (tools/nats-server-tuned): the same pinned nats-server
# with Raft timings as flags, the recommended NATS build for banditd
# clusters (docs/SCALING.md, "NATS build"). Built from its own go.mod/go.sum
# with the Go module proxy; rebuilt only when its sources change.
tuned_src=tools/nats-server-tuned
tuned_want=$(cat "$tuned_src/main.go" "$tuned_src/go.mod" "$tuned_src/go.sum" | sha256sum | cut -d' ' -f1)
tuned_stamp=.tools/bin/.nats-server-tuned.stamp
if [[ -x .tools/bin/nats-server-tuned && -f $tuned_stamp && $(cat "$tuned_stamp") == "$tuned_want" ]]; then
  :
else
  say "go: building nats-server-tuned ($tuned_src)"
  (cd "$tuned_src" && "$GO" build -trimpath -buildvcs=false -o "$ROOT/.tools/bin/nats-server-tuned" . 2>&1 |
    { grep -v "^go: downloading" || true; })
  echo "$tuned_want" >"$tuned_stamp"
fi
say "go: tools in .tools/bin: $(ls .tools/bin | tr '\n' ' ')"
say "done"

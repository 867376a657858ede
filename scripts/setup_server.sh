#!/usr/bin/env bash
# Installs only what building and running the banditd server needs: the
# compiler, CMake and the Debian libraries the binary links (gRPC, protobuf,
# Abseil, SQLite, OpenSSL, prometheus-cpp, cpp-httplib, the NATS C client,
# librdkafka; spdlog and nlohmann-json for the log; gperftools' tcmalloc, the
# allocator the server links). No test frameworks,
# browser, Prometheus, NATS server, Python or Go: scripts/setup.sh adds those
# for development. A second run is a fast no-op. Safe as root or as a sudoer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup-server] %s\n' "$*"; }

SERVER_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libssl-dev
  prometheus-cpp-dev libcpp-httplib-dev libnats-dev
  libspdlog-dev nlohmann-json3-dev
  # Kafka ingest (--kafka_brokers): librdkafka's C++ API
  librdkafka-dev
  # the server's allocator (BANDITD_TCMALLOC): libtcmalloc_minimal.so, the
  # runtime package libtcmalloc-minimal4 comes with it
  libgoogle-perftools-dev
)
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${SERVER_APT_PACKAGES[@]}"; do
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
  say "apt: ${#SERVER_APT_PACKAGES[@]} packages present"
fi

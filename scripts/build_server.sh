#!/usr/bin/env bash
# Builds only the server, optimized (CMake Release: -O3), without the tests,
# benchmarks and tools, into build-release/. The binary is
# build-release/server/banditd. scripts/build.sh is the development build
# (everything, build/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ ! -f build-release/build.ninja || ! -f build-release/CMakeCache.txt ]]; then
  echo "[build-server] configuring build-release/"
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBANDITD_BUILD_TESTS=OFF -DBANDITD_BUILD_BENCHMARKS=OFF "${LAUNCHER[@]}"
fi
echo "[build-server] building banditd"
cmake --build build-release --target banditd -j"$(nproc)"

#!/usr/bin/env bash
# Configures (once) and builds banditd into build/. The server is build/banditd.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# ccache, when installed, makes rebuilds and builds in other checkouts of the
# same sources cheap: paths are taken relative to the checkout.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if [[ ! -f build/build.ninja || ! -f build/CMakeCache.txt ]]; then
  echo "[build] configuring build/"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LAUNCHER[@]}"
fi
echo "[build] building"
cmake --build build -j2
# The scripts, tests and README use build/banditd. If CMake places the binary
# elsewhere (for example build/server/banditd), point build/banditd at it.
if [[ ! -e build/banditd || -L build/banditd ]]; then
  for candidate in build/server/banditd; do
    if [[ -x $candidate ]]; then
      ln -sfn "${candidate#build/}" build/banditd
      break
    fi
  done
fi

#!/bin/sh
# Builds and runs every test: the dev build, then the same suite under ASan + UBSan.
set -eu
cd "$(dirname "$0")"
packaging/install-deps.sh build test

for preset in dev asan; do
    echo "== $preset: build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    echo "== $preset: test"
    # Most tests wait on timers or sockets rather than the CPU: run them side by side.
    ctest --preset "$preset" --parallel 4
done

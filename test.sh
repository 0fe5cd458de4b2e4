#!/bin/sh
# Builds and runs every test: the dev build (unit, HTTP, hostile clients, systemd, journal, and
# the .deb in a booted systemd container), the same suite but the package test under ASan +
# UBSan and under TSan, then each libFuzzer target for a bounded time.
set -eu
cd "$(dirname "$0")"
packaging/install-deps.sh build test package e2e fuzz

for preset in dev asan tsan; do
    echo "== $preset: build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    echo "== $preset: test"
    # The package test builds its own release binary: once is enough.
    exclude=
    [ "$preset" = dev ] || exclude="--label-exclude e2e"
    # Most tests wait on timers or sockets rather than the CPU: run them side by side.
    # shellcheck disable=SC2086 # $exclude is empty or two words
    ctest --preset "$preset" --parallel 4 $exclude
done

tests/fuzz/run.sh "${FUZZ_SECONDS:-60}"

#!/bin/sh
# Builds and runs every test: the dev build (unit, HTTP, hostile clients, systemd, journal, and
# the .deb in a booted systemd container) and clang-tidy over the daemon's sources, the same
# suite but the package test under ASan + UBSan and under TSan, then each libFuzzer target for a
# bounded time.
set -eu
cd "$(dirname "$0")"
packaging/install-deps.sh build test package e2e fuzz

for preset in dev asan tsan; do
    echo "== $preset: build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    echo "== $preset: test"
    # The package test builds its own release binary, and testssl.sh scans what the sanitizers
    # do not change: once is enough. The HTTP/2 flood tests measure CPU time and memory, which
    # the sanitizers inflate. Under ASan + UBSan the
    # descriptor-exhaustion test cannot work: UBSan's vptr check opens a pipe inside the daemon
    # to probe memory, and the test has taken every descriptor away (it runs in dev and tsan).
    case $preset in
    dev) exclude= ;;
    asan) exclude="--label-exclude e2e|testssl|h2flood --exclude-regex ^descriptor_exhaustion" ;;
    *) exclude="--label-exclude e2e|testssl|h2flood" ;;
    esac
    # Most tests wait on timers or sockets rather than the CPU: run them side by side.
    # shellcheck disable=SC2086 # $exclude holds whole options
    ctest --preset "$preset" --parallel 4 $exclude
    if [ "$preset" = dev ]; then
        # The analysis does not change with the sanitizers: once is enough.
        echo "== tidy: clang-tidy over daemon/"
        cmake --preset tidy >/dev/null
        cmake --build --preset tidy
    fi
done

tests/fuzz/run.sh "${FUZZ_SECONDS:-40}"

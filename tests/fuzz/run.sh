#!/bin/sh
# Builds the libFuzzer targets (fuzz preset, clang, ASan + UBSan) and runs each for a bounded
# time over its seed corpus. A crash fails the run; its input is kept in build/fuzz/crashes and
# belongs in tests/fuzz/corpus/<target>/ once fixed, where every later run replays it first.
# usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
crashes=build/fuzz/crashes
mkdir -p "$crashes"
status=0
for target in request config h2; do
    work=$(mktemp -d)
    echo "== fuzz $target for ${seconds}s"
    if ! "build/fuzz/tests/fuzz/${target}_fuzz" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/$target-" \
        "$work" "tests/fuzz/corpus/$target" >"$work.log" 2>&1; then
        status=1
        grep -E "ERROR|SUMMARY|Test unit written" "$work.log" || tail -30 "$work.log"
    fi
    grep -E "^stat::(number_of_executed_units|new_units_added)" "$work.log" || true
    rm -rf "$work" "$work.log"
done
exit $status

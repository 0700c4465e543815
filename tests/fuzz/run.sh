#!/bin/sh
# Builds and runs the libFuzzer targets of aitag.
#
# usage: tests/fuzz/run.sh [SECONDS] [BUILD_DIR]
#   SECONDS    how long each fuzzer runs (default 20: a CI smoke run; give
#              600 or more for a real campaign)
#   BUILD_DIR  build directory (default: build-fuzz in the source tree)
#
# Environment:
#   CLANG           the C compiler (default clang; it must be clang with libFuzzer)
#   FUZZ_TARGETS    which targets to run (default "tokenizer corpus model")
#   FUZZ_JOBS       how many fuzzers run at once (default 1)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536"
#   FUZZ_KEEP_CORPUS=1  keep BUILD_DIR/fuzz-run/<target>/corpus between runs
#                   (the corpus grows from run to run) instead of starting
#                   again from the seeds
#   AITAG_FUZZ_SKIP comma-separated checks the harnesses skip, to fuzz past a
#                   known failure (fuzz_corpus: "textmax", "ftnul"; fuzz_model:
#                   "nonfinite"; see the comments at the top of each harness).
#                   A known UBSan report is passed by configuring BUILD_DIR with
#                   -DAITAG_FUZZ_EXTRA_FLAGS=-fsanitize-recover=CHECK and setting
#                   UBSAN_OPTIONS=halt_on_error=1:suppressions=FILE
#
# Each fuzzer works on a copy of tests/fuzz/seeds/<target> (the seeds stay
# as they are) and writes crash reproducers to BUILD_DIR/fuzz-run/<target>/
# artifacts. Exit status: 0 if no fuzzer found anything, 1 if one did, 2 if
# the build failed. A reproducer worth keeping goes to
# tests/fuzz/regressions/<target>-<short-name>; replay one with
#   BUILD_DIR/tests/fuzz/fuzz_<target> FILE
set -u

secs=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${2:-$src/build-fuzz}
targets=${FUZZ_TARGETS:-tokenizer corpus model}
jobs=${FUZZ_JOBS:-1}
cc=${CLANG:-clang}

case $secs in
'' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run.sh: $cc not found; the fuzzers need clang with libFuzzer" >&2
    exit 2
fi

echo "== configuring $build"
CC=$cc cmake -S "$src" -B "$build" -DAITAG_FUZZ=ON -DAITAG_BUILD_MODEL=OFF -DBUILD_TESTING=OFF \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 2; }
rm -f "$build.configure.log"
build=$(cd "$build" && pwd)
set --
for t in $targets; do set -- "$@" "fuzz_$t"; done
echo "== building $*"
cmake --build "$build" --target "$@" -j"${CMAKE_BUILD_PARALLEL_LEVEL:-2}" >"$build/fuzz-build.log" 2>&1 ||
    { tail -n 50 "$build/fuzz-build.log" >&2; exit 2; }

# run_one TARGET: one fuzzing session; the summary goes to its log directory.
run_one() {
    t=$1
    work=$build/fuzz-run/$t
    mkdir -p "$work"
    rm -rf "$work/artifacts"
    mkdir -p "$work/artifacts"
    if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ] || [ ! -d "$work/corpus" ]; then
        rm -rf "$work/corpus"
        mkdir -p "$work/corpus"
        cp "$here/seeds/$t/"* "$work/corpus/"
    fi
    dict=
    [ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
    # shellcheck disable=SC2086 # FUZZ_ARGS and dict are word lists
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" $dict ${FUZZ_ARGS:-} "$work/corpus" >"$work/log" 2>&1
    echo $? >"$work/status"
}

pids=
running=0
for t in $targets; do
    if [ ! -d "$here/seeds/$t" ]; then
        echo "run.sh: no seeds for '$t' in $here/seeds" >&2
        exit 2
    fi
    echo "== fuzzing $t for ${secs}s"
    run_one "$t" &
    pids="$pids $!"
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait

found=0
echo "== results"
for t in $targets; do
    work=$build/fuzz-run/$t
    log=$work/log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    bad=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | sort)
    status=$(cat "$work/status" 2>/dev/null || echo '?')
    printf '%-15s %s executions, cov %s, exit %s: ' "fuzz_$t" "${execs:-?}" "${cov:-?}" "$status"
    if [ -n "$bad" ]; then
        found=1
        echo "FOUND $(echo "$bad" | wc -l) reproducer(s):"
        echo "$bad" | sed 's/^/    /'
        grep -m 3 -E '^(SUMMARY|==[0-9]+==ERROR|fuzz_[a-z]+: )' "$log" | sed 's/^/    /'
        echo "    full log: $log"
    elif [ "$status" != 0 ]; then
        found=1
        echo "FAILED without a reproducer; see $log"
        tail -n 5 "$log" | sed 's/^/    /'
    else
        echo "no crash"
    fi
done
exit $found

#!/bin/sh
# test.sh [--sanitize]: sets everything up on a fresh Debian machine (as root), builds aitag
# and runs the whole test suite with ctest. With --sanitize, in a separate build with
# AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
sh "$root/scripts/install-deps.sh"
if [ "${1:-}" = "--sanitize" ]; then
    dir="$root/build-asan"
    sh "$root/scripts/build.sh" "$dir" -DAITAG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export AITAG_STREAM_GIB=${AITAG_STREAM_GIB:-0.05}   # the 1 GiB stream runs in the plain build
    export AITAG_SANITIZED=1
else
    dir="$root/build"
    sh "$root/scripts/build.sh" "$dir"
fi
cd "$dir"
ctest --output-on-failure -j 2

#!/bin/sh
# build.sh [BUILD_DIR] [cmake options...]: configure and build aitag (and train the default model).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-"$root/build"}
[ $# -gt 0 ] && shift
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)"

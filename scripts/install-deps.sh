#!/bin/sh
# install-deps.sh: the one place that names aitag's dependencies (Debian 12 packages).
# Run as root (or with sudo). Installs nothing else.
set -eu
BUILD_DEPS="build-essential cmake pkg-config liblinear-dev libsvm-dev libutf8proc-dev libcjson-dev libxxhash-dev check python3 valgrind libmicrohttpd-dev curl wrk"
# the Python package (cffi in ABI mode), its scikit-learn and Dask parts (pandas for Dask dataframes), and their tests
PYTHON_DEPS="python3-cffi python3-numpy python3-scipy python3-sklearn python3-dask python3-distributed python3-pandas python3-pytest"
# optional extras for `.ci/run` (sanitizer and fuzz runs): clang and its runtime
EXTRA_DEPS="clang libclang-rt-dev"
pkgs="$BUILD_DEPS $PYTHON_DEPS"
if [ "${1:-}" = "--with-fuzz" ]; then
    pkgs="$pkgs $EXTRA_DEPS"
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
# everything already there (a second test run): no apt at all
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all $(echo $pkgs | wc -w) packages present"
    exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $pkgs

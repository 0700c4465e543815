#!/bin/sh
# install-deps.sh: the one place that names aitag's dependencies (Debian 12 packages).
# Run as root (or with sudo). Installs nothing else.
set -eu
BUILD_DEPS="build-essential cmake pkg-config liblinear-dev libsvm-dev libutf8proc-dev libcjson-dev check python3 valgrind"
# optional extras for `.ci/run` (sanitizer and fuzz runs): clang and its runtime
EXTRA_DEPS="clang libclang-rt-dev"
pkgs="$BUILD_DEPS"
if [ "${1:-}" = "--with-fuzz" ]; then
    pkgs="$pkgs $EXTRA_DEPS"
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $pkgs

#!/bin/sh
# test_abi.sh BUILD_DIR SOURCE_DIR: the shared library exports the public API
# only and never forks; an installed prefix serves pkg-config and
# find_package(aitag CONFIG) users, whose example program classifies a text.
set -eu
build=$1
src=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
so=$build/libaitag.so
[ -e "$so" ] || { echo "test_abi: no shared library built; skipped"; exit 0; }
# an instrumented library needs the sanitizer runtime first in any program: checked in the plain build
[ -z "${AITAG_SANITIZED:-}" ] || { echo "test_abi: sanitizer build; skipped"; exit 0; }

bad=$(nm -D --defined-only "$so" | awk '$2 ~ /[TDBRVW]/ {print $3}' | grep -v '^aitag_[a-z0-9]' || true)
[ -z "$bad" ] || fail "libaitag.so exports symbols outside the API: $bad"
internal=$(nm -D --defined-only "$so" | awk '{print $3}' | grep '^aitag__' || true)
[ -z "$internal" ] || fail "libaitag.so exports internal symbols: $internal"
for f in fork vfork srand rand system; do
    nm -D --undefined-only "$so" | awk '{print $2}' | sed 's/@.*//' | grep -qx "$f" &&
        fail "libaitag.so calls $f()"
done
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
case $soname in libaitag.so.[0-9]*) ;; *) fail "soname is '$soname'" ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "install"; }
libdir=$(dirname "$(find "$tmp/prefix" -name aitag.pc | head -1)")/..
[ -f "$libdir/pkgconfig/aitag.pc" ] || fail "no aitag.pc installed"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --variable=prefix aitag | xargs realpath)" = "$(realpath "$tmp/prefix")" ] ||
    fail "aitag.pc's prefix $(pkg-config --variable=prefix aitag) is not the install prefix"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$src/examples/classify.c" $(pkg-config --cflags --libs aitag) -o "$tmp/ex-pc"
export AITAG_MODEL="$tmp/prefix/share/aitag/default.aitag"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/ex-pc" "Samsung starts mass production of HBM4 memory for AI accelerators")
echo "$out" | grep -q '^chips ' || fail "pkg-config example did not tag chips: $out"
echo "$out" | grep -q "^libaitag $(cat "$build/generated/aitag/version.h" | sed -n 's/.*AITAG_VERSION_STRING "\(.*\)"/\1/p')" ||
    fail "aitag_version() does not match the header: $out"

cmake -S "$src/examples" -B "$tmp/ex-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/cfg.log" 2>&1 ||
    { cat "$tmp/cfg.log"; fail "find_package(aitag CONFIG)"; }
cmake --build "$tmp/ex-build" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "example build"; }
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/ex-build/classify" "Waymo robotaxis and an LLM voice assistant in the car")
echo "$out" | grep -q '^mobility ' || fail "find_package example did not tag mobility: $out"
echo "test_abi: ok"

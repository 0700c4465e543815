#!/bin/sh
# demo.sh: sets everything up on a fresh Debian machine (as root), builds aitag with its
# default model, and tags the sample articles in datasets/samples/.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
sh "$root/scripts/install-deps.sh"
sh "$root/scripts/build.sh" "$root/build"
echo
echo "== aitag classify --format text datasets/samples/*.txt"
"$root/build/aitag" classify --format text "$root"/datasets/samples/*.txt
echo
echo "== the same as JSON lines, with the terms behind each tag (first sample)"
"$root/build/aitag" classify --explain 3 --scores tags "$root/datasets/samples/01-ko-datacenter.txt"

#!/bin/sh
# demo.sh: sets everything up on a fresh Debian machine (as root), builds aitag with its
# default model, and tags the sample articles in datasets/samples/.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
sh "$root/scripts/install-deps.sh"
sh "$root/scripts/build.sh" "$root/build"
cd "$root"
echo
echo "== build/aitag classify --format text datasets/samples/*.txt"
build/aitag classify --format text datasets/samples/*.txt
echo
echo "== a long multi-sector article: each tag with the passage behind it"
build/aitag classify --format text --evidence datasets/samples/07-en-multi-partnerships.txt
echo
echo "== JSON lines, with the three terms that weigh most for each tag (first sample)"
build/aitag classify --explain 3 --scores tags datasets/samples/01-ko-datacenter.txt

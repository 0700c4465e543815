#!/bin/sh
# Compare aitag with the installed peers (scikit-learn, liblinear, fastText).
# usage: bench/compare.sh DATASET_DIR [--out DIR] [--threads N] [--aitag PATH] [--limit N] [--only LIST]
# All the work is done by bench/compare.py (run with the system Python, which
# has python3-sklearn); see `bench/compare.sh --help`.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
if [ ! -x /usr/bin/python3 ]; then
    echo "compare.sh: /usr/bin/python3 not found (install: apt-get install python3 python3-sklearn)" >&2
    exit 2
fi
exec /usr/bin/python3 "$here/compare.py" "$@"

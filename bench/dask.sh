#!/bin/sh
# dask.sh [--docs N] [--workers 1,2,4] [--train-args "..."] [--json]: aitag on local Dask
# clusters against the CLI on one machine (bench/dask_bench.py; Debian's python3 explicitly).
# Run from anywhere after a build; needs python3-dask and python3-distributed.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec /usr/bin/python3 "$here/dask_bench.py" "$@"

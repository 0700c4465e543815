#!/bin/sh
# serve.sh [AITAG] [MODEL] [SECONDS]: loads `aitag serve` with wrk on loopback and prints a
# Markdown table: requests/s, documents/s, p50 and p99 latency, the server's CPU time per
# request (user + system; steadier than requests/s on a shared machine) and RSS, for
# single-article requests, 32-article NDJSON batches and headline-only requests at 1, 16 and 64
# connections.
#
#   sh bench/serve.sh                                  # build/aitag, build/models/default.aitag, 10 s each
#   sh bench/serve.sh build/aitag sectors.aitag 5
#
# Articles: datasets/ai-sectors/test.jsonl (first line, 1.1 kB; first 32 lines; the first
# line's title alone). The server and wrk share the machine's cores; wrk runs 2 threads (1 for
# a single connection). Bounded: 9 runs.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
aitag=${1:-$root/build/aitag}
model=${2:-$root/build/models/default.aitag}
secs=${3:-10}
command -v wrk >/dev/null 2>&1 || { echo "serve.sh: wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/aitag-bench-serve.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
sh "$root/bench/serve_bodies.sh" "$root/datasets/ai-sectors/test.jsonl" "$tmp"

"$aitag" serve -m "$model" --listen 127.0.0.1:0 2>"$tmp/serve.err" &
pid=$!
port=
while [ -z "$port" ]; do
    kill -0 "$pid" || { cat "$tmp/serve.err" >&2; exit 1; }
    port=$(sed -n 's/^aitag: serving .* on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/serve.err" 2>/dev/null || true)
    sleep 0.1
done
url=http://127.0.0.1:$port/v1/classify
wrk -t 2 -c 16 -d 2s -s "$tmp/single.lua" "$url" >/dev/null # warm-up

# wrk prints latencies as 512.00us, 1.20ms or 1.01s: in milliseconds
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # clock ticks
hz=$(getconf CLK_TCK)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| request | connections | requests/s | documents/s | p50 ms | p99 ms | server CPU µs/request | non-2xx | socket errors | RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for kind in single batch32 headline; do
    docs=1
    [ "$kind" = batch32 ] && docs=32
    for c in 1 16 64; do
        t=2
        [ "$c" = 1 ] && t=1
        c0=$(cpu)
        wrk -t "$t" -c "$c" -d "${secs}s" --latency -s "$tmp/$kind.lua" "$url" >"$tmp/out"
        c1=$(cpu)
        nreq=$(awk '/requests in/ {print $1}' "$tmp/out")
        rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/out")
        p50=$(ms "$(awk '$1 == "50%" {print $2}' "$tmp/out")")
        p99=$(ms "$(awk '$1 == "99%" {print $2}' "$tmp/out")")
        non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/out")
        sockerr=$(awk '/Socket errors/ {print $4 $6 $8 $10}' "$tmp/out")
        rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
        dps=$(awk -v r="$rps" -v d="$docs" 'BEGIN { printf "%.0f", r * d }')
        us=$(awk -v a="$c0" -v b="$c1" -v n="$nreq" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) / hz * 1e6 / n }')
        echo "| $kind | $c | $rps | $dps | $p50 | $p99 | $us | ${non2xx:-0} | ${sockerr:-0} | $rss |"
    done
done
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)" >&2

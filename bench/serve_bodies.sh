#!/bin/sh
# serve_bodies.sh CORPUS.jsonl DIR: request bodies and wrk scripts for loading `aitag serve`:
#   DIR/single.json, DIR/single.lua    one article (the corpus's first line) as application/json
#   DIR/batch32.jsonl, DIR/batch32.lua 32 articles (its first 32 lines) as application/x-ndjson
#   DIR/headline.json, DIR/headline.lua the first article's title alone, as application/json
set -eu
corpus=$1
dir=$2
head -n 1 "$corpus" | tr -d '\n' >"$dir/single.json"
head -n 32 "$corpus" >"$dir/batch32.jsonl"
head -n 1 "$corpus" | /usr/bin/python3 -c '
import json, sys
a = json.loads(sys.stdin.read())
sys.stdout.write(json.dumps({"id": a.get("id", 1), "text": a.get("title") or a["text"][:100]}))' >"$dir/headline.json"
[ "$(wc -l <"$dir/batch32.jsonl")" -eq 32 ] || { echo "serve_bodies.sh: $corpus has fewer than 32 lines" >&2; exit 1; }
for kind in single:single.json:application/json batch32:batch32.jsonl:application/x-ndjson \
    headline:headline.json:application/json; do
    name=${kind%%:*}
    rest=${kind#*:}
    file=${rest%%:*}
    ctype=${rest#*:}
    cat >"$dir/$name.lua" <<LUA
local f = assert(io.open("$dir/$file", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "$ctype"
LUA
done

#!/bin/sh
# test_serve.sh: end-to-end tests of `aitag serve` with curl on loopback.
#
#   sh tests/cli/test_serve.sh PATH_TO_AITAG SOURCE_DIR
#
# Every server listens on 127.0.0.1 port 0 (a free port the kernel picks, read
# back from the startup line), is waited for until /healthz answers and is
# killed on exit. Prints one "ok"/"FAIL" line per check; exits 1 if any failed.
# AITAG_SANITIZED=1 (the sanitizer build) shortens the heavy parts, never the
# correctness checks.

# shellcheck disable=SC2016 # checks are strings run by eval
set -u
if [ $# -ne 2 ]; then
    echo "usage: sh test_serve.sh PATH_TO_AITAG SOURCE_DIR" >&2
    exit 2
fi
case $1 in /*) AITAG=$1 ;; *) AITAG=$(pwd)/$1 ;; esac
case $2 in /*) SRC=$2 ;; *) SRC=$(pwd)/$2 ;; esac
DATA=$SRC/tests/data/cli
PY=/usr/bin/python3
PROBE="$PY $SRC/tests/cli/serve_probe.py"
for tool in curl "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "FAIL - setup: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/aitag-serve.XXXXXX") || exit 1
PIDS=
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
cd "$T" || exit 1
LC_ALL=C
export LC_ALL
SAN=${AITAG_SANITIZED:-0}

N=0
FAILED=0
O=$T/body
H=$T/headers
S=000
ok() { N=$((N + 1)); echo "ok   $N - $1"; }
fail() {
    N=$((N + 1))
    FAILED=$((FAILED + 1))
    echo "FAIL $N - $1"
    [ -n "${2:-}" ] && echo "     $2"
}
# t DESC CONDITION
t() {
    if eval "$2"; then ok "$1"; else fail "$1" "status=$S body: $(head -c 300 "$O" 2>/dev/null | tr '\n' ' ')"; fi
}

# start NAME ARGS...: starts a server; sets PORT and PID, stderr in $T/NAME.err
start() {
    name=$1
    shift
    "$AITAG" serve --listen 127.0.0.1:0 "$@" 2>"$T/$name.err" &
    PID=$!
    PIDS="$PIDS $PID"
    PORT=
    i=0
    while [ $i -lt 300 ]; do
        PORT=$(sed -n 's/^aitag: serving .* on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/$name.err" 2>/dev/null)
        if [ -n "$PORT" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    echo "FAIL - setup: server $name did not start: $(head -c 500 "$T/$name.err")"
    exit 1
}

# req METHOD PATH [CURL ARGS...]: the answer's body in $O, headers in $H, status in $S
req() {
    m=$1
    p=$2
    shift 2
    S=$(curl -s -o "$O" -D "$H" -w '%{http_code}' -X "$m" "$@" "http://127.0.0.1:$PORT$p") || S=000
}
header() { grep -i "^$1:" "$H" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
# problem STATUS WORDS: the answer is that problem+json whose detail holds WORDS
problem() {
    [ "$S" = "$1" ] && [ "$(header content-type)" = "application/problem+json" ] &&
        $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["status"]==int(sys.argv[2]) and d["title"] and sys.argv[3] in d["detail"] and d["instance"]))' "$O" "$1" "$2"
}
jq_() { $PY -c "import json,sys; d=json.load(open('$O')); sys.exit(not ($1))"; }

# ---- a model of its own, and a second one for reloads ------------------------

M=$T/model.aitag
if ! "$AITAG" train -q -t 1 -i "$DATA/train.jsonl" -o "$T/m1.aitag" 2>"$T/train.err" ||
    ! "$AITAG" train -q -t 1 -C 0.25 -i "$DATA/train.jsonl" -o "$T/m2.aitag" 2>>"$T/train.err"; then
    echo "FAIL - setup: training the test models: $(head -c 300 "$T/train.err")"
    exit 1
fi
cp "$T/m1.aitag" "$M"

# inputs: good lines, every kind of bad line, invalid UTF-8, CRLF, numeric ids, no final newline
$PY - "$DATA/test.jsonl" <<'PYEOF' >mixed.jsonl
import sys
good = open(sys.argv[1], "rb").read().splitlines()
out = [b"\xef\xbb\xbf" + good[0]] + good[1:]
out += [b'{"id": 7, "text": "GPU chips for the data centre"}\r',
        b'{"id": "x", "title": "no text"}',
        b'{"id": "y", "text": "unterminated',
        b"",
        b"   ",
        b"[1, 2]",
        b'{"id": "bad-utf8", "text": "chips \xff\xfe and \xc3 robots"}',
        b'{"id": "nul", "text": "a\\u0000b"}',
        b'\xff\xff not json at all',
        b'{"id": 12345678901234567890, "text": "big id"}',
        b'{"id": "last", "text": "hospital imaging assistant"}']
sys.stdout.buffer.write(b"\n".join(out))
PYEOF
head -1 "$DATA/test.jsonl" | tr -d '\n' >one.json

start main -m "$M" --access-log --threads 2 --max-body 60000000 --timeout 3
MAIN_PORT=$PORT
MAIN_PID=$PID

# ---- the simple endpoints -----------------------------------------------------

req GET /healthz
t "GET /healthz: 200 {status: ok}" '[ "$S" = 200 ] && jq_ "d == {\"status\": \"ok\"}"'
S=$(curl -s -I -o "$H" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
t "HEAD /healthz: 200, the headers of GET" '[ "$S" = 200 ] && [ "$(header content-length)" = 17 ]'
req GET /readyz
t "GET /readyz: 200 when a model is loaded" '[ "$S" = 200 ] && jq_ "d[\"status\"] == \"ready\""'
req GET /v1/model
"$AITAG" info --json "$M" >info.json 2>/dev/null
t "GET /v1/model: labels, sizes, checksum and the model's header (as aitag info --json)" \
    '[ "$S" = 200 ] && [ "$(header content-type)" = application/json ] && $PY -c "
import json; d = json.load(open(\"$O\")); i = json.load(open(\"info.json\"))
assert d[\"labels\"] == i[\"labels\"] and d[\"header\"] == i, (d[\"labels\"], i.get(\"labels\"))
assert d[\"bytes\"] == $(wc -c <"$M") and len(d[\"checksum\"]) == 16 and d[\"generation\"] == 1
assert d[\"load_seconds\"] >= 0 and d[\"num_features\"] > 0"'
cp "$O" model1.json

# ---- classification: the same bytes as `aitag classify -` -------------------------

req POST /v1/classify -H 'Content-Type: application/json' --data-binary @one.json
"$AITAG" classify -m "$M" -t 1 - <one.json >one.expected 2>/dev/null
t "POST /v1/classify one JSON object: 200 application/json, the line aitag classify prints" \
    '[ "$S" = 200 ] && [ "$(header content-type)" = application/json ] && cmp -s "$O" one.expected'

for q in "" "?top_k=1&scores=tags" "?min_labels=2&margins=true&explain=3" "?scores=none&margins=1" \
    "?evidence=true&top_k=2" "?explain=1000&scores=all&margins=0"; do
    args=
    case $q in *top_k=1*) args="$args --top-k 1" ;; *top_k=2*) args="$args --top-k 2" ;; esac
    case $q in *scores=tags*) args="$args --scores tags" ;; *scores=none*) args="$args --scores none" ;; esac
    case $q in *min_labels=2*) args="$args --min-labels 2" ;; esac
    case $q in *margins=true* | *margins=1*) args="$args --margins" ;; esac
    case $q in *explain=3*) args="$args --explain 3" ;; *explain=1000*) args="$args --explain 1000" ;; esac
    case $q in *evidence=true*) args="$args --evidence" ;; esac
    # shellcheck disable=SC2086
    "$AITAG" classify -m "$M" -t 2 $args - <mixed.jsonl >mixed.expected 2>/dev/null
    req POST "/v1/classify$q" -H 'Content-Type: application/x-ndjson' --data-binary @mixed.jsonl
    t "POST /v1/classify$q NDJSON (bad lines, invalid UTF-8, BOM, CRLF): byte for byte aitag classify$args -" \
        '[ "$S" = 200 ] && [ "$(header content-type)" = application/x-ndjson ] && cmp -s "$O" mixed.expected &&
         [ "$(wc -l <"$O")" -eq "$(($(wc -l <mixed.jsonl) + 1))" ]'
done
"$AITAG" classify -m "$M" - <"$DATA/test.jsonl" >test.expected 2>/dev/null
req POST /v1/classify -H 'Content-Type: application/x-ndjson; charset=utf-8' --data-binary @"$DATA/test.jsonl"
t "NDJSON with a charset parameter: the same as aitag classify" '[ "$S" = 200 ] && cmp -s "$O" test.expected'
$PY -c '
import sys
data = open("mixed.jsonl", "rb").read()
sys.stdout.buffer.write((data + b"\n") * 300)' >large.jsonl
"$AITAG" classify -m "$M" --explain 2 - <large.jsonl >large.expected 2>/dev/null
req POST "/v1/classify?explain=2" -H 'Content-Type: application/x-ndjson' --data-binary @large.jsonl
t "a $(wc -c <large.jsonl)-byte NDJSON body: streamed (chunked), byte for byte aitag classify" \
    '[ "$S" = 200 ] && [ "$(header transfer-encoding)" = chunked ] && cmp -s "$O" large.expected'
req POST /v1/classify -H 'Content-Type: application/x-ndjson' --data-binary ''
t "empty NDJSON body: 200, no lines" '[ "$S" = 200 ] && [ ! -s "$O" ]'
printf '{\n  "id": "pretty",\n  "text": "GPU chips"\n}\n' >pretty.json
req POST /v1/classify -H 'Content-Type: application/json' --data-binary @pretty.json
t "a pretty-printed JSON object is one article" '[ "$S" = 200 ] && jq_ "d[\"id\"] == \"pretty\" and \"labels\" in d"'

# ---- bad requests ------------------------------------------------------------------

req POST /v1/classify -H 'Content-Type: application/json' --data-binary '{"id": 1, "text": '
t "400 malformed JSON, detail says so" 'problem 400 "malformed JSON"'
req POST /v1/classify -H 'Content-Type: application/json' --data-binary '{"id": 1, "title": "no text"}'
t "400 missing text, detail names it" 'problem 400 "text"'
req POST /v1/classify -H 'Content-Type: application/json' --data-binary ''
t "400 empty JSON body" 'problem 400 "empty body"'
req POST /v1/classify -H 'Content-Type: application/json' --data-binary '[1, 2]'
t "400 a JSON array is not an article" '[ "$S" = 400 ] && [ "$(header content-type)" = application/problem+json ]'
req POST "/v1/classify?top_k=0" -H 'Content-Type: application/json' --data-binary @one.json
t "400 top_k=0, detail names the parameter" 'problem 400 "top_k"'
req POST "/v1/classify?scores=some" -H 'Content-Type: application/json' --data-binary @one.json
t "400 scores=some" 'problem 400 "scores"'
req POST "/v1/classify?explain=1001" -H 'Content-Type: application/json' --data-binary @one.json
t "400 explain=1001" 'problem 400 "explain"'
req POST "/v1/classify?topk=1" -H 'Content-Type: application/json' --data-binary @one.json
t "400 an unknown query parameter is named" 'problem 400 "topk"'
req POST /v1/classify -H 'Content-Type: text/plain' --data-binary @one.json
t "415 text/plain, detail names the type" 'problem 415 "text/plain"'
req POST /v1/classify --data-binary @one.json -H 'Content-Type:'
t "415 no Content-Type" 'problem 415 "(none)"'
req GET /v1/nothing
t "404 unknown path" 'problem 404 "/v1/nothing"'
req GET /v1/classify
t "405 GET /v1/classify with Allow: POST" 'problem 405 "GET" && [ "$(header allow)" = POST ]'
req DELETE /healthz
t "405 DELETE /healthz with Allow: GET, HEAD" 'problem 405 "DELETE" && [ "$(header allow)" = "GET, HEAD" ]'
req GET /v1/reload
t "405 GET /v1/reload" 'problem 405 "POST"'
req GET /healthz -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
t "a 20 KB header: 431 from libmicrohttpd" '[ "$S" = 431 ]'
req GET "/healthz?$(head -c 20000 /dev/zero | tr '\0' a)"
t "a 20 KB URL: 414 from libmicrohttpd" '[ "$S" = 414 ]'

# ---- sizes: a 50 MB article within --max-body, and over it ------------------------

$PY -c '
import sys
w = b"chips GPU datacenter robots hospital policy telecom energy grid "
body = w * (50_000_000 // len(w))
sys.stdout.buffer.write(b"{\"id\": \"big\", \"text\": \"" + body + b"\"}")' >big.json
req POST /v1/classify -H 'Content-Type: application/json' --data-binary @big.json
t "a 50 MB article within --max-body 60000000: 200 with its tags" '[ "$S" = 200 ] && jq_ "d[\"id\"] == \"big\" and \"labels\" in d"'
head -c 60000001 /dev/zero | tr '\0' 'a' >toobig.json
req POST /v1/classify -H 'Content-Type: application/json' --data-binary @toobig.json
t "413 a body over --max-body (Content-Length), detail gives the limit" 'problem 413 "60000000"'
rm -f "$O"
req POST /v1/classify -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @toobig.json
t "413 a chunked body over --max-body" 'problem 413 "60000000"'
rm -f big.json toobig.json
req GET /healthz
t "the service answers after the big bodies" '[ "$S" = 200 ]'

# ---- hostile clients --------------------------------------------------------------

t "slowloris: 50 half-sent requests do not stop others and are closed after --timeout 3" \
    '$PROBE slowloris "$PORT" 50 8'
t "clients that disconnect mid-body: the service goes on" '$PROBE disconnect "$PORT" 20'
FLOOD=10000
[ "$SAN" = 1 ] && FLOOD=2000
t "$FLOOD connections opened at once: the service answers afterwards" '$PROBE flood "$PORT" $FLOOD'
RSS=$(awk '/VmRSS/ {print $2}' "/proc/$MAIN_PID/status")
LIMIT=400000
[ "$SAN" = 1 ] && LIMIT=2000000
t "memory stays bounded after all that: RSS ${RSS} kB < $LIMIT kB" '[ "$RSS" -lt "$LIMIT" ]'

# ---- metrics and the access log -----------------------------------------------------

req GET /metrics
t "GET /metrics: 200 text/plain" '[ "$S" = 200 ] && case $(header content-type) in text/plain*) true ;; *) false ;; esac'
SUM1=$($PY -c 'import json; print(json.load(open("model1.json"))["checksum"])')
for pat in 'aitag_http_requests_total{endpoint="/v1/classify",status="200"} [1-9]' \
    'aitag_http_requests_total{endpoint="/v1/classify",status="415"} 2$' \
    'aitag_http_requests_total{endpoint="other",status="404"} 1$' \
    'aitag_documents_classified_total [1-9]' 'aitag_bad_lines_total [1-9]' \
    'aitag_http_request_duration_seconds_bucket{endpoint="/v1/classify",le="+Inf"} [1-9]' \
    'aitag_http_requests_in_flight [1-9]' 'aitag_model_load_seconds [0-9]' "aitag_model_info{checksum=\"$SUM1\""; do
    t "/metrics has $pat" 'grep -q "^$pat" "$O"'
done
BADS=$(sed -n 's/^aitag_bad_lines_total //p' "$O")
PERRUN=$(grep -c '"error"' mixed.expected)
t "bad lines counted: 306 copies of the mixed input x $PERRUN bad lines" '[ "$BADS" = $((306 * PERRUN)) ] && [ "$PERRUN" -ge 7 ]'
t "access log: one JSON line per request on stderr" '$PY -c "
import json
rows = [json.loads(l) for l in open(\"$T/main.err\") if l.startswith(\"{\")]
assert any(r[\"path\"] == \"/v1/classify\" and r[\"status\"] == 200 and r[\"docs\"] == 1 for r in rows)
assert any(r[\"status\"] == 415 for r in rows) and all(r[\"ms\"] >= 0 and r[\"method\"] for r in rows)"'

# ---- reload ---------------------------------------------------------------------------

cp "$T/m2.aitag" "$M.tmp" && mv "$M.tmp" "$M"
req POST /v1/reload
t "POST /v1/reload: 200, generation 2" '[ "$S" = 200 ] && jq_ "d[\"generation\"] == 2 and d[\"checksum\"] != \"$SUM1\""'
req GET /v1/model
t "GET /v1/model shows the new model" 'jq_ "d[\"generation\"] == 2 and d[\"checksum\"] != \"$SUM1\""'
SUM2=$($PY -c "import json; print(json.load(open('$O'))['checksum'])")
head -c 1000 "$T/m1.aitag" >"$M.tmp" && mv "$M.tmp" "$M"
req POST /v1/reload
t "a truncated model is refused (500, detail says why) and the old one keeps serving" \
    'problem 500 "previous one keeps serving"'
req GET /v1/model
t "after the refused reload: generation 2, same checksum" 'jq_ "d[\"generation\"] == 2 and d[\"checksum\"] == \"$SUM2\""'
req POST /v1/classify -H 'Content-Type: application/json' --data-binary @one.json
t "after the refused reload: classification works" '[ "$S" = 200 ] && jq_ "\"labels\" in d"'
cp "$T/m1.aitag" "$M.tmp" && mv "$M.tmp" "$M"
kill -HUP "$MAIN_PID"
i=0
while [ $i -lt 100 ]; do
    req GET /v1/model
    jq_ 'd["generation"] == 3' && break
    sleep 0.05
    i=$((i + 1))
done
t "SIGHUP reloads: generation 3, the first model's checksum" 'jq_ "d[\"generation\"] == 3 and d[\"checksum\"] == \"$SUM1\""'

# reload under load: clients hammer /v1/classify while the model is swapped 20 times
cat "$DATA/test.jsonl" "$DATA/test.jsonl" >batch.jsonl
rm -f stop
$PROBE hammer "$PORT" batch.jsonl application/x-ndjson "$T/stop" 4 >hammer.out 2>&1 &
HAMMER=$!
k=0
while [ $k -lt 20 ]; do
    if [ $((k % 2)) = 0 ]; then cp "$T/m2.aitag" "$M.tmp"; else cp "$T/m1.aitag" "$M.tmp"; fi
    mv "$M.tmp" "$M"
    if [ $((k % 4)) = 3 ]; then kill -HUP "$MAIN_PID"; else curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/reload"; fi
    sleep 0.1
    k=$((k + 1))
done
touch stop
wait $HAMMER
HRC=$?
t "reload under load: 20 swaps, no failed request ($(cat hammer.out))" '[ "$HRC" = 0 ]'
req GET /v1/model
t "20 reloads later: generation 23" 'jq_ "d[\"generation\"] == 23"'

# ---- authentication and addresses -------------------------------------------------------

printf 's3cr3t-t0ken\n' >token
chmod 600 token
start auth -m "$M" --token-file "$T/token" --max-connections 8
req GET /healthz
t "with --token-file, /healthz needs no token" '[ "$S" = 200 ]'
req GET /v1/model
t "401 without a token, with WWW-Authenticate: Bearer" 'problem 401 "Bearer" && [ "$(header www-authenticate)" = Bearer ]'
req GET /metrics -H 'Authorization: Bearer s3cr3t-t0ke'
t "401 with a wrong token (a prefix)" 'problem 401 "Bearer"'
req GET /readyz -H 'Authorization: Bearer s3cr3t-t0ken!'
t "401 with a wrong token (longer)" 'problem 401 "Bearer"'
req POST /v1/classify -H 'Authorization: Bearer s3cr3t-t0ken' -H 'Content-Type: application/json' --data-binary @one.json
t "200 with the token" '[ "$S" = 200 ] && cmp -s "$O" one.expected'
req GET /v1/nothing
t "401 before 404: no route is revealed without the token" '[ "$S" = 401 ]'

# 503 over --max-connections: 10 idle connections, then a request
$PY - "$PORT" <<'PYEOF' >overload.out
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
time.sleep(0.5)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n")[0].decode())
print("retry-after" if b"Retry-After: 1" in data else "no retry-after")
PYEOF
t "503 with Retry-After over --max-connections 8" 'grep -q "^HTTP/1.1 503" overload.out && grep -q "^retry-after" overload.out'

# 503 when the bodies in flight would pass 4 x --max-body: three held bodies, then a fourth
start budget -m "$M" --max-body 100000
$PY - "$PORT" <<'PYEOF' >budget.out
import socket, sys, time
port = int(sys.argv[1])
head = (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
        b"Content-Length: 100000\r\n\r\n")
held = []
for _ in range(3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head + b'{"text": "chips"}\n' * 100)
    held.append(s)
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(head)
print(s.recv(4096).split(b"\r\n")[0].decode())
for h in held:
    h.close()
PYEOF
t "503 when the bodies in flight would pass the body budget" 'grep -q "^HTTP/1.1 503" budget.out'
req POST /v1/classify -H 'Content-Type: application/x-ndjson' --data-binary @"$DATA/test.jsonl"
t "the budget is given back: a body fits again" '[ "$S" = 200 ]'

"$AITAG" serve -m "$M" --listen 0.0.0.0:0 >/dev/null 2>refuse.err
RC=$?
t "a non-loopback address without --token-file is refused (exit 2)" '[ $RC = 2 ] && grep -q "insecure" refuse.err'
printf '\n' >empty.token
"$AITAG" serve -m "$M" --token-file empty.token >/dev/null 2>refuse.err
RC=$?
t "an empty token file is refused" '[ $RC = 1 ] && grep -q "no token" refuse.err'
"$AITAG" serve -m "$T/no-such.aitag" --listen 127.0.0.1:0 >/dev/null 2>refuse.err
RC=$?
t "a missing model: exit 1 with the loader's message" '[ $RC = 1 ] && grep -q "no-such.aitag" refuse.err'
"$AITAG" serve -m "$M" --listen 127.0.0.1:99999 >/dev/null 2>refuse.err
RC=$?
t "a bad port: usage error" '[ $RC = 2 ]'

# ---- SIGTERM with requests in flight --------------------------------------------------------

start term -m "$M" --threads 2 --timeout 20
$PY -c "
import sys
lines = open('$DATA/test.jsonl', 'rb').read()
sys.stdout.buffer.write(lines * 100)" >held.jsonl
rm -f go
$PROBE inflight "$PORT" held.jsonl "$T/go" >held.out 2>&1 &
HELD=$!
i=0
SEEN=0
while [ $i -lt 500 ]; do
    if curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^aitag_http_requests_in_flight [2-9]'; then
        SEEN=1
        break
    fi
    sleep 0.01
    i=$((i + 1))
done
t "a request is in flight, half its body sent (the gauge counts it with /metrics itself)" '[ $SEEN = 1 ]'
kill -TERM "$PID"
sleep 0.3
DRAIN=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
STILL=0
kill -0 "$PID" 2>/dev/null && STILL=1
t "after SIGTERM, while a request is in flight, a new connection is closed at once" \
    '[ "$DRAIN" = 000 ] && [ $STILL = 1 ]'
touch go
wait $HELD
wait "$PID"
TRC=$?
t "SIGTERM: the request in flight gets its whole answer ($(cat held.out)), then exit 0" \
    '[ "$TRC" = 0 ] && [ "$(cat held.out)" = "HTTP/1.1 200 OK $(wc -l <held.jsonl)" ] &&
     grep -q "finishing the requests in flight" "$T/term.err"'
t "after SIGTERM the port is closed" '! curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"'

kill -INT "$MAIN_PID"
wait "$MAIN_PID"
t "SIGINT: exit 0" '[ $? = 0 ]'

echo "$((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

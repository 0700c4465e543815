#!/bin/sh
# test_cli.sh: end-to-end tests of the aitag command.
#
#   sh tests/cli/test_cli.sh PATH_TO_AITAG SOURCE_DIR
#
# POSIX sh (dash). Works in a fresh temporary folder that is removed on exit,
# trains its own small model from tests/data/cli (never the default model),
# prints one "ok"/"FAIL" line per check and exits 1 if any check failed.
# JSON output is validated with python3 when it is installed, else with grep.

# shellcheck disable=SC2016,SC2034,SC2317 # checks are strings run by eval

set -u

if [ $# -ne 2 ]; then
    echo "usage: sh test_cli.sh PATH_TO_AITAG SOURCE_DIR" >&2
    exit 2
fi
case $1 in /*) AITAG=$1 ;; *) AITAG=$(pwd)/$1 ;; esac
case $2 in /*) SRC=$2 ;; *) SRC=$(pwd)/$2 ;; esac
DATA=$SRC/tests/data/cli
if [ ! -x "$AITAG" ] || [ ! -f "$DATA/train.jsonl" ]; then
    echo "FAIL - setup: $AITAG is not executable or $DATA/train.jsonl is missing"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/aitag-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
cd "$T" || exit 1

# English error messages (checked below); a missing default model must not be
# papered over: every command here that needs a model gets -m.
LC_ALL=C
export LC_ALL
AITAG_MODEL=$T/no-such-default-model.aitag
export AITAG_MODEL
exec </dev/null

# ---- reporting --------------------------------------------------------------

N=0
FAILED=0
rc=0
O=$T/out
E=$T/err

ok() { N=$((N + 1)); echo "ok   $N - $1"; }
fail() {
    N=$((N + 1))
    FAILED=$((FAILED + 1))
    echo "FAIL $N - $1"
    if [ -n "${2:-}" ]; then echo "     $2"; fi
}
skip() { echo "skip - $1"; }

# run CMD...: runs CMD with stdout to $O and stderr to $E; status in $rc.
run() {
    "$@" >"$O" 2>"$E"
    rc=$?
}

# t DESC CONDITION: one check; CONDITION is evaluated by the shell.
t() {
    if eval "$2"; then
        ok "$1"
    else
        fail "$1" "rc=$rc; stderr: $(head -c 300 "$E" 2>/dev/null | tr '\n' ' ')"
    fi
}

nlines() { wc -l <"$1" | tr -d ' '; }
empty() { [ ! -s "$1" ]; }

if command -v python3 >/dev/null 2>&1; then
    PY=1
else
    PY=0
    echo "# python3 not found: JSON checks fall back to grep"
fi
if command -v timeout >/dev/null 2>&1; then TMO="timeout 120"; else TMO=""; fi

# ---- JSON checker -------------------------------------------------------------

cat >chk.py <<'PYEOF'
"""Checks for test_cli.sh; each sub-command exits 0 when the check holds,
else prints why and exits 1."""
import json
import re
import sys


def die(msg):
    print(msg)
    sys.exit(1)


def load_jsonl(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        die(path + ": output does not end with a newline")
    out = []
    for i, raw in enumerate(data.split(b"\n")[:-1] if data else [], 1):
        try:
            v = json.loads(raw.decode("utf-8"))
        except Exception as e:  # invalid UTF-8 or JSON
            die("%s:%d: not valid JSON (%s): %r" % (path, i, e, raw[:100]))
        if not isinstance(v, dict):
            die("%s:%d: not a JSON object" % (path, i))
        out.append(v)
    return out


def load_json(path):
    with open(path, "rb") as f:
        try:
            return json.loads(f.read().decode("utf-8"))
        except Exception as e:
            die("%s: not valid JSON (%s)" % (path, e))


def id_str(v):
    return str(v)


def cmd_jsonl(path, n=None):
    rows = load_jsonl(path)
    if n is not None and len(rows) != int(n):
        die("%s: %d lines, expected %s" % (path, len(rows), n))
    for i, r in enumerate(rows, 1):
        if "id" not in r:
            die("%s:%d: no id" % (path, i))
        if ("labels" in r) == ("error" in r):
            die("%s:%d: needs exactly one of labels / error: %r" % (path, i, r))


def cmd_gen(out, expect):
    """Output lines match the expectation file line by line (ids, kinds)."""
    rows = load_jsonl(out)
    exp = [json.loads(l) for l in open(expect, encoding="utf-8")]
    if len(rows) != len(exp):
        die("%d output lines for %d input lines" % (len(rows), len(exp)))
    for i, (r, (kind, typ, ident)) in enumerate(zip(rows, exp), 1):
        got = r.get("id")
        idents = ident if isinstance(ident, list) else [ident]  # list: any of these
        if typ == "n":
            good = isinstance(got, (int, float)) and not isinstance(got, bool) and id_str(got) in idents
        else:
            good = got in idents
        if not good:
            die("line %d: id %r, expected %r (%s)" % (i, got, ident, typ))
        is_err = "error" in r
        if is_err == ("labels" in r):
            die("line %d: needs exactly one of labels / error: %r" % (i, r))
        if kind == "ok" and is_err:
            die("line %d: unexpected error %r" % (i, r["error"]))
        if kind == "err" and not is_err:
            die("line %d (id %r): expected an error, got %r" % (i, ident, r))
        if is_err and not (isinstance(r["error"], str) and r["error"]):
            die("line %d: empty error message" % i)


def cmd_labels(path):
    """Prints each line's labels comma-joined, or ERROR."""
    for r in load_jsonl(path):
        print("ERROR" if "error" in r else ",".join(r["labels"]))


def cmd_keys(path, *keys):
    obj = load_json(path)
    for k in keys:
        if k not in obj:
            die("%s: no key %r" % (path, k))


def cmd_eval(path, gold_path, pred_path):
    """eval --json against metrics recomputed from classify's predictions."""
    ev = load_json(path)
    for k in ("docs", "accuracy", "micro", "macro", "labels"):
        if k not in ev:
            die("no key %r" % k)
    for part in ("micro", "macro"):
        for k in ("precision", "recall", "f1"):
            v = ev[part].get(k)
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                die("%s.%s = %r" % (part, k, v))
    gold = [json.loads(l) for l in open(gold_path, encoding="utf-8") if l.strip()]
    pred = load_jsonl(pred_path)
    if ev["docs"] != len(gold) or len(pred) != len(gold):
        die("docs %r, gold %d, predictions %d" % (ev["docs"], len(gold), len(pred)))
    tp = fp = fn = 0
    per = {}
    for g, p in zip(gold, pred):
        gs, ps = set(g["labels"]), set(p["labels"])
        tp += len(gs & ps)
        fp += len(ps - gs)
        fn += len(gs - ps)
        for l in gs | ps:
            c = per.setdefault(l, [0, 0, 0])
            c[0] += l in gs and l in ps
            c[1] += l in ps and l not in gs
            c[2] += l in gs and l not in ps
    P = tp / (tp + fp) if tp + fp else 0.0
    R = tp / (tp + fn) if tp + fn else 0.0
    F = 2 * P * R / (P + R) if P + R else 0.0
    m = ev["micro"]
    if abs(m["precision"] - P) > 1e-4 or abs(m["recall"] - R) > 1e-4 or abs(m["f1"] - F) > 1e-4:
        die("micro %r, recomputed P %.6f R %.6f F1 %.6f" % (m, P, R, F))
    for l, (a, b, c) in per.items():
        e = ev["labels"].get(l)
        if e is None:
            die("label %r missing from labels" % l)
        if e.get("support") != a + c:
            die("label %r: support %r, expected %d" % (l, e.get("support"), a + c))
        if a + b and abs(e["precision"] - a / (a + b)) > 1e-4:
            die("label %r: precision %r, expected %.6f" % (l, e["precision"], a / (a + b)))
        if a + c and abs(e["recall"] - a / (a + c)) > 1e-4:
            die("label %r: recall %r, expected %.6f" % (l, e["recall"], a / (a + c)))


def cmd_explain(path, article, n):
    """Every tag has 1..n explaining terms; each term's words are in the article."""
    n = int(n)
    words = set(re.findall(r"\w+", open(article, encoding="utf-8").read().lower()))
    for r in load_jsonl(path):
        ex = r.get("explain")
        if not isinstance(ex, dict) or set(ex) != set(r["labels"]) or not r["labels"]:
            die("explain %r does not cover labels %r" % (ex, r.get("labels")))
        for lab, terms in ex.items():
            if not 1 <= len(terms) <= n:
                die("%s: %d terms" % (lab, len(terms)))
            for term, val in terms:
                if not set(term.split()) <= words or not isinstance(val, (int, float)):
                    die("%s: term %r (%r) not from the article" % (lab, term, val))


def ranked(r):
    m = r["margins"]
    return sorted(m, key=lambda k: -m[k])


def cmd_topk(full, cut, k):
    """--top-k K keeps the best-margin tags of the full answer, at most K."""
    k = int(k)
    for a, b in zip(load_jsonl(full), load_jsonl(cut)):
        want = sorted(a["labels"], key=lambda l: -a["margins"][l])[:k]
        if b["labels"] != want:
            die("id %r: top-k labels %r, expected %r" % (a["id"], b["labels"], want))


def cmd_minlabels(full, more, n):
    """--min-labels N: the tags that pass, then the best-margin others, >= N."""
    n = int(n)
    for a, b in zip(load_jsonl(full), load_jsonl(more)):
        if len(b["labels"]) < min(n, len(a["margins"])):
            die("id %r: %r has fewer than %d labels" % (a["id"], b["labels"], n))
        if not set(a["labels"]) <= set(b["labels"]):
            die("id %r: %r lost labels of %r" % (a["id"], b["labels"], a["labels"]))
        if not a["labels"]:
            want = ranked(a)[:n]
            if b["labels"] != want:
                die("id %r: %r, expected the best-margin %r" % (a["id"], b["labels"], want))


def cmd_tokens(path, tokens, invalid):
    rows = load_jsonl(path)
    want = json.loads(tokens)
    if len(rows) != 1 or rows[0].get("tokens") != want or rows[0].get("invalid_utf8") != int(invalid):
        die("%r, expected tokens %r invalid_utf8 %s" % (rows, want, invalid))


def cmd_info(path, *labels):
    obj = load_json(path)
    if obj.get("labels") != list(labels):
        die("labels %r, expected %r" % (obj.get("labels"), list(labels)))


def cmd_bench(path, docs, labels):
    obj = load_json(path)
    if obj.get("docs") != int(docs) or obj.get("labels") != int(labels):
        die("docs %r labels %r, expected %s and %s" % (obj.get("docs"), obj.get("labels"), docs, labels))


def cmd_cv(path):
    obj = load_json(path)
    for k in ("folds", "micro_f1", "macro_f1"):
        if k not in obj:
            die("no key %r" % k)
    if not 0 <= obj["micro_f1"] <= 1:
        die("micro_f1 %r" % obj["micro_f1"])


if __name__ == "__main__":
    globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
PYEOF

py() { python3 "$T/chk.py" "$@" >"$T/py.msg" 2>&1; }
pymsg() { head -c 300 "$T/py.msg" | tr '\n' ' '; }

# tj DESC CHECK ARGS...: a python check (message on failure); DESC-only
# grep fallback is done by the caller when python3 is missing.
tj() {
    d=$1
    shift
    if py "$@"; then ok "$d"; else fail "$d" "$(pymsg)"; fi
}

# valid_jsonl FILE [N]: every line a JSON object with an id and exactly one of
# labels / error (and exactly N lines).
valid_jsonl() {
    if [ $PY = 1 ]; then
        py jsonl "$@"
    else
        [ $# -lt 2 ] || [ "$(nlines "$1")" -eq "$2" ] || return 1
        ! grep -v '^{"id": .*}$' "$1" >/dev/null
    fi
}

# ---- fixtures -----------------------------------------------------------------

LABELS="energy finance healthcare robotics"
M=$T/model.aitag
SOURCE_DATE_EPOCH=1767225600
export SOURCE_DATE_EPOCH
if ! "$AITAG" train -q -t 1 -i "$DATA/train.jsonl" -o "$M" 2>"$E" || [ ! -s "$M" ]; then
    fail "setup: train the test model from tests/data/cli/train.jsonl" "$(head -c 300 "$E")"
    echo "# cannot go on without a model"
    exit 1
fi
cp "$DATA/article_health.txt" health.txt
cp "$DATA/article_energy.txt" energy.txt
cp "$DATA/test.jsonl" test.jsonl

# ===== general: help, version, usage errors =====================================

COMMANDS="train classify eval bench info tokenize"
BENCH=1
"$AITAG" bench --help >"$O" 2>"$E"
if [ $? -ne 0 ] || grep -qi 'not yet\|not implemented' "$O" "$E"; then
    BENCH=0
fi

run "$AITAG" --help
t "aitag --help: exit 0, usage on stdout, nothing on stderr" '[ $rc -eq 0 ] && grep -q "^usage: aitag" $O && empty $E'
t "aitag --help: has an example: section" 'grep -q "^example:" $O'
missing=""
for c in $COMMANDS; do grep -q "^  $c " "$O" || missing="$missing $c"; done
t "aitag --help: lists every command" '[ -z "$missing" ]'

run "$AITAG" --version
want=$(sed -n 's/^project(aitag VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
t "aitag --version: exit 0, prints the project version ($want), nothing on stderr" \
    '[ $rc -eq 0 ] && [ -n "$want" ] && grep -q "^aitag $want " $O && empty $E'

for c in $COMMANDS; do
    if [ "$c" = bench ] && [ $BENCH = 0 ]; then
        skip "aitag bench --help: bench is not implemented yet"
        continue
    fi
    run "$AITAG" "$c" --help
    t "aitag $c --help: exit 0, help on stdout, nothing on stderr" \
        '[ $rc -eq 0 ] && grep -q "^usage: aitag $c" $O && empty $E'
    t "aitag $c --help: mentions defaults and has an example: section" \
        'grep -qi "default" $O && grep -q "^example:" $O && [ "$(sed -n "/^example:/{n;p;}" $O | grep -c "aitag $c")" -ge 1 ]'
    run "$AITAG" "$c" -h
    t "aitag $c -h: same as --help" '[ $rc -eq 0 ] && grep -q "^usage: aitag $c" $O'
done

run "$AITAG"
t "aitag (no arguments): exit 2, usage on stderr, nothing on stdout" '[ $rc -eq 2 ] && empty $O && grep -q "usage" $E'

# usage_error DESC ARGS...: exit 2, an "aitag" diagnostic, empty stdout.
usage_error() {
    d=$1
    shift
    run "$AITAG" "$@"
    t "$d: exit 2, aitag diagnostic on stderr, nothing on stdout" '[ $rc -eq 2 ] && empty $O && grep -q "^aitag" $E'
}
usage_error "unknown command 'frobnicate'" frobnicate
for c in $COMMANDS; do
    [ "$c" = bench ] && [ $BENCH = 0 ] && continue
    usage_error "aitag $c --no-such-option" "$c" --no-such-option
done
usage_error "unknown short option (classify -Z)" classify -m "$M" -Z health.txt
usage_error "flag given an argument (classify --margins=yes)" classify -m "$M" --margins=yes health.txt
usage_error "missing option argument (classify -m)" classify -m
usage_error "missing option argument (train -i)" train -o x.aitag -i
usage_error "missing option argument (eval -i)" eval -m "$M" -i
usage_error "missing option argument (tokenize --max-bytes)" tokenize --max-bytes
usage_error "bad number (classify --threads abc)" classify -m "$M" --threads abc health.txt
usage_error "bad number (classify --threads 4x)" classify -m "$M" --threads 4x health.txt
usage_error "bad number (classify --threads 0)" classify -m "$M" --threads 0 health.txt
usage_error "bad number (classify --top-k -1)" classify -m "$M" --top-k -1 health.txt
usage_error "bad number (classify --max-bytes 99999999999999999999999)" classify -m "$M" --max-bytes 99999999999999999999999 health.txt
usage_error "bad number (train --cost nan)" train -i "$DATA/train.jsonl" -o x.aitag --cost nan
usage_error "bad number (train --cost -1)" train -i "$DATA/train.jsonl" -o x.aitag --cost -1
usage_error "bad number (eval --top-k 1.5)" eval -m "$M" -i test.jsonl --top-k 1.5
usage_error "bad number (tokenize --word-ngrams 9)" tokenize --word-ngrams 9
usage_error "bad choice (classify --format xml)" classify -m "$M" --format xml health.txt
t "no file was created by the rejected train commands" '[ ! -e x.aitag ]'

# ===== train ====================================================================

usage_error "train without -i" train -o x.aitag
usage_error "train without -o" train -i "$DATA/train.jsonl"

run "$AITAG" train -t 1 -i "$DATA/train.jsonl" -o m2.aitag
t "train: exit 0, summary names 4 labels and 46 documents" \
    '[ $rc -eq 0 ] && [ -s m2.aitag ] && grep -q "trained 4 labels on 46 documents" $E && empty $O'
t "train: same corpus and settings -> byte-identical model (SOURCE_DATE_EPOCH)" 'cmp -s m2.aitag "$M"'

run "$AITAG" train -q -t 1 -i - -o stdin.aitag <"$DATA/train.jsonl"
t "train -i - reads the corpus from stdin (quiet: no output at all)" '[ $rc -eq 0 ] && empty $O && empty $E'
t "train -i -: same model as from the file" 'cmp -s stdin.aitag "$M"'

run "$AITAG" train -q -t 1 -i "$DATA/train.ft" -o ft.aitag
t "train: fastText-format corpus trains" '[ $rc -eq 0 ] && [ -s ft.aitag ]'
run "$AITAG" info ft.aitag
t "train: fastText model has the 4 labels" 'grep -q "labels (4): energy.*finance.*healthcare.*robotics" $O'
run "$AITAG" classify -m ft.aitag --scores none health.txt energy.txt
t "train: fastText model tags the test articles healthcare / energy" \
    '[ "$(sed -n 1p $O)" = "{\"id\": \"health.txt\", \"labels\": [\"healthcare\"]}" ] && [ "$(sed -n 2p $O)" = "{\"id\": \"energy.txt\", \"labels\": [\"energy\"]}" ]'

# malformed lines 3 and 11 (of 48)
awk 'NR == 3 { print "{\"id\": \"x\", \"text\": \"unterminated" }
     NR == 10 { print "{\"id\": \"y\", \"text\": \"grid\", \"labels\": \"energy\"}" }
     { print }' "$DATA/train.jsonl" >bad_train.jsonl
run "$AITAG" train -q -i bad_train.jsonl -o bad.aitag
t "train: malformed line -> exit 1, message names file and line (bad_train.jsonl:3)" \
    '[ $rc -eq 1 ] && grep -q "^aitag: .*bad_train.jsonl:3" $E && [ ! -e bad.aitag ]'
run "$AITAG" train -t 1 -i bad_train.jsonl -o bad.aitag --skip-bad
t "train --skip-bad: trains on the 46 good lines, warns '2 malformed line(s) skipped'" \
    '[ $rc -eq 0 ] && [ -s bad.aitag ] && grep -q "warning: 2 malformed line" $E && grep -q "on 46 documents" $E'
t "train --skip-bad: each skipped line is named (bad_train.jsonl:3 and :11)" \
    'grep -q "bad_train.jsonl:3" $E && grep -q "bad_train.jsonl:11" $E'

run "$AITAG" train -q --cv 3 --json -t 1 -i "$DATA/train.jsonl" -o cv.aitag
if [ $PY = 1 ]; then
    if [ $rc -eq 0 ] && py cv "$O"; then ok "train --cv 3 --json: valid JSON with folds, micro_f1, macro_f1"; else fail "train --cv 3 --json" "rc=$rc $(pymsg)"; fi
else
    t "train --cv 3 --json: JSON with micro_f1" '[ $rc -eq 0 ] && grep -q "^{.*\"micro_f1\": .*}$" $O'
fi

touch notadir
run "$AITAG" train -q -i "$DATA/train.jsonl" -o notadir/m.aitag
t "train: output under a regular file -> exit 1, message names the path" '[ $rc -eq 1 ] && grep -q "notadir/m.aitag" $E'

cp "$M" keep.aitag
: >empty.jsonl
run "$AITAG" train -q -i empty.jsonl -o keep.aitag
t "train: empty corpus -> exit 1" '[ $rc -eq 1 ] && grep -q "^aitag: " $E'
t "train: existing model untouched after training on an empty corpus failed" 'cmp -s keep.aitag "$M"'
run "$AITAG" train -q -i bad_train.jsonl -o keep.aitag
t "train: existing model untouched after an invalid corpus" '[ $rc -eq 1 ] && cmp -s keep.aitag "$M"'
printf '{"id": 1, "text": "only energy here", "labels": ["energy"]}\n{"id": 2, "text": "more energy", "labels": ["energy"]}\n' >onelabel.jsonl
run "$AITAG" train -q -i onelabel.jsonl -o keep.aitag
t "train: a corpus with one label cannot train -> exit 1, model untouched" '[ $rc -eq 1 ] && cmp -s keep.aitag "$M"'
run "$AITAG" train -q -i health.txt -o keep.aitag
t "train: unlabelled text as corpus -> exit 1, model untouched" '[ $rc -eq 1 ] && cmp -s keep.aitag "$M"'
t "train: no temporary files left after the failed runs" '[ -z "$(ls | grep "\.tmp\.")" ]'

# A corpus big enough that training takes a few seconds: the documents again
# and again, each with 30 extra pseudo-random words.
# (index/substr, not sub(): regular expressions are slow in mawk)
awk 'BEGIN { srand(7) }
     {
         p = index($0, "\", \"labels\"")
         head[NR] = substr($0, 1, p - 1)
         tail[NR] = substr($0, p)
         head[NR] = substr(head[NR], index(head[NR], "\", ") + 1)
     }
     END {
         for (r = 0; r < 400; r++)
             for (i = 1; i <= NR; i++) {
                 x = ""
                 for (k = 0; k < 30; k++) x = x " v" int(rand() * 5000)
                 print "{\"id\": \"g" r "_" i "\"" head[i] x tail[i]
             }
     }' "$DATA/train.jsonl" >big.jsonl
t "fixture: big.jsonl has 18400 labelled lines" '[ "$(nlines big.jsonl)" -eq 18400 ] && [ "$(grep -c "^{\"id\": \"g[0-9]*_[0-9]*\", .*\"labels\": \[" big.jsonl)" -eq 18400 ]'


mkdir killdir
cp "$M" killdir/target.aitag
"$AITAG" train -q -t 1 --search-C -i big.jsonl -o killdir/target.aitag 2>/dev/null &
pid=$!
sleep 0.5 2>/dev/null || sleep 1
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null # no "Killed" notice from the shell
krc=$?
if [ $krc -ne 137 ]; then
    skip "train killed with -9: training had already ended (status $krc) before the kill"
else
    t "train killed with -9 mid-way: the old model is byte-identical" 'cmp -s killdir/target.aitag "$M"'
    run "$AITAG" info killdir/target.aitag
    t "train killed with -9 mid-way: the old model still loads (aitag info)" '[ $rc -eq 0 ] && grep -q "labels (4)" $O'
    stray=$(ls -a killdir | grep -v '^\.\{1,2\}$' | grep -v '^target\.aitag$' | grep -v '^target\.aitag\.tmp\.' || true)
    t "train killed with -9 mid-way: no stray files (a target.aitag.tmp.* at most)" '[ -z "$stray" ]'
fi

# ===== classify ==================================================================

run "$AITAG" classify -m "$M" health.txt
t "classify one file: exit 0, one JSON line, nothing on stderr" '[ $rc -eq 0 ] && [ "$(nlines $O)" -eq 1 ] && empty $E && valid_jsonl $O 1'
t "classify one file: id is the file name, tagged healthcare" 'grep -q "^{\"id\": \"health.txt\", \"labels\": \[\"healthcare\"\]" $O'

run "$AITAG" classify -m "$M" --scores none health.txt energy.txt health.txt
t "classify several files: one line each, in order" \
    '[ $rc -eq 0 ] && [ "$(cut -d, -f1 $O | tr "\n" " ")" = "{\"id\": \"health.txt\" {\"id\": \"energy.txt\" {\"id\": \"health.txt\" " ]'

run "$AITAG" classify -m "$M" health.txt nosuchfile.txt energy.txt
t "classify with a missing file: exit 1, still 3 lines" '[ $rc -eq 1 ] && valid_jsonl $O 3'
t "classify with a missing file: the error line names it, the others are classified" \
    'sed -n 2p $O | grep -q "^{\"id\": \"nosuchfile.txt\", \"error\": \".*nosuchfile.txt" && sed -n 1p $O | grep -q "\"labels\": \[\"healthcare\"\]" && sed -n 3p $O | grep -q "\"labels\": \[\"energy\"\]"'
t "classify with a missing file: summary '1 of 3' on stderr" 'grep -q "^aitag: 1 of 3 " $E'

run "$AITAG" classify -m "$M" - <test.jsonl
t "classify -: reads JSON lines from stdin, ids echoed in order" \
    '[ $rc -eq 0 ] && valid_jsonl $O 6 && [ "$(cut -d, -f1 $O | tr -d "\n")" = "{\"id\": \"t1\"{\"id\": \"t2\"{\"id\": \"t3\"{\"id\": \"t4\"{\"id\": \"t5\"{\"id\": \"t6\"" ]'
run "$AITAG" classify -m "$M" <test.jsonl
t "classify without FILE reads stdin too" '[ $rc -eq 0 ] && valid_jsonl $O 6'

# -- a few thousand JSON lines with bad ones at known places --------------------
# gen.expect holds one JSON array per input line: [kind, id type, id] where
# kind is ok (must be classified), err (must be an error line) or any, and id
# may be a list of acceptable ids.
: >gen.jsonl
: >gen.expect
ln=0
exp() { printf '%s\n' "$1" >>gen.expect; ln=$((ln + 1)); }
line() { printf "$1" >>gen.jsonl; }
block() {
    awk -v s="$1" -v c="$2" -v base="$ln" 'BEGIN {
        t[0] = "Doctors at the hospital read scans for patients"
        t[1] = "The bank scores card payments for fraud and investors react"
        t[2] = "Robot arms in the warehouse grasp parcels"
        t[3] = "The grid operator forecasts solar power and electricity demand"
        t[4] = "A surgical robot helps doctors and patients"
        t[5] = "Zebra quantum lorem"
        for (i = s; i < s + c; i++) {
            txt = t[i % 6] " item " i
            if (i % 7 == 3) {
                printf "{\"id\": %d, \"text\": \"%s\"}\n", 100000 + i, txt >> "gen.jsonl"
                printf "[\"ok\", \"n\", \"%d\"]\n", 100000 + i >> "gen.expect"
            } else if (i % 11 == 5) {
                printf "{\"text\": \"%s\", \"labels\": []}\n", txt >> "gen.jsonl"
                printf "[\"ok\", \"s\", \"%d\"]\n", base + i - s + 1 >> "gen.expect"
            } else {
                printf "{\"id\": \"n%d\", \"title\": \"Story %d\", \"text\": \"%s\"}\n", i, i, txt >> "gen.jsonl"
                printf "[\"ok\", \"s\", \"n%d\"]\n", i >> "gen.expect"
            }
        }
    }'
    ln=$((ln + $2))
}
line '\357\273\277{"id": "first", "text": "a byte order mark starts this file: hospital"}\n'
exp '["ok", "s", "first"]'
block 1 1000
line '{"id": "b", "text": "unterminated"\n'
exp "[\"err\", \"s\", \"$((ln + 1))\"]"
line '{"id": "c", "title": "text is missing"}\n'
exp '["err", "s", "c"]'
line '{"id": "d", "text": 42}\n'
exp '["err", "s", "d"]'
# classify does not use labels: a malformed labels field does not cost the article
line '{"id": "e", "text": "bank", "labels": "finance"}\n'
exp '["ok", "s", "e"]'
line '\n'
exp "[\"err\", \"s\", \"$((ln + 1))\"]"
line '{"id": "g", "text": "invalid \377\376 bytes on the grid"}\n'
exp '["any", "s", "g"]'
line '{"id": "h\377", "text": "robot arms"}\n'
exp '["any", "s", "h\ufffd"]'
line '{"id": 17, "text": "robot arms, CRLF line"}\r\n'
exp '["ok", "n", "17"]'
line '{"id": "lab", "text": "bank fraud", "labels": ["finance"]}\n'
exp '["ok", "s", "lab"]'
line '{"id": "ti", "text": "grid", "title": 5}\n'
exp '["err", "s", "ti"]'
line '[1, 2]\n'
exp "[\"err\", \"s\", \"$((ln + 1))\"]"
line '   \t \n'
exp "[\"err\", \"s\", \"$((ln + 1))\"]"
line '{"id": "dup", "text": "grid", "text": "bank"}\n'
exp "[\"err\", \"s\", [\"dup\", \"$((ln + 1))\"]]"
line '{"id": "esc", "text": "caf\\u00e9 \\ud83d\\ude00 robots \\"quoted\\""}\n'
exp '["ok", "s", "esc"]'
line '{"id": 1.5, "text": "grid"}\n'
exp '["ok", "n", "1.5"]'
line '{"id": "arr", "text": ["grid"]}\n'
exp '["err", "s", "arr"]'
line '{"id": "bomlate", "text": "a BOM is only dropped at the start"}\n'
exp '["ok", "s", "bomlate"]'
# (a BOM inside the file: cJSON skips it; an error line would be fine too)
line '\357\273\277{"id": "bom2", "text": "grid"}\n'
exp "[\"any\", \"s\", [\"bom2\", \"$((ln + 1))\"]]"
block 1001 2000
line '{"id": "last", "text": "no final newline: grid power"}'
exp '["ok", "s", "last"]'
NGEN=$ln

run $TMO "$AITAG" classify -m "$M" --threads 1 gen.jsonl
cp "$O" gen.t1
cp "$E" gen.t1.err
grc=$rc
t "classify $NGEN JSON lines with bad ones: exit 1" '[ $grc -eq 1 ]'
if [ $PY = 1 ]; then
    tj "classify .jsonl: one valid JSON line per input line, ids echoed in order, errors in place" gen gen.t1 gen.expect
else
    t "classify .jsonl: one line per input line" '[ "$(nlines gen.t1)" -eq $NGEN ] && valid_jsonl gen.t1'
    nerr=$(grep -c '"err"' gen.expect)
    t "classify .jsonl: at least $nerr error lines" '[ "$(grep -c "\"error\": " gen.t1)" -ge $nerr ]'
fi
nbad=$(grep -c '^{"id": [^,]*, "error": ' gen.t1)
t "classify .jsonl: summary on stderr says $nbad of $NGEN" 'grep -q "^aitag: $nbad of $NGEN input" gen.t1.err'
t "classify .jsonl: the first document's BOM was dropped (classified)" 'head -1 gen.t1 | grep -q "^{\"id\": \"first\", \"labels\": "'

run $TMO "$AITAG" classify -m "$M" --threads 4 gen.jsonl
t "classify --threads 4: exit 1 and output identical to --threads 1" '[ $rc -eq 1 ] && cmp -s $O gen.t1'
run $TMO "$AITAG" classify -m "$M" --threads 4 --batch 3 gen.jsonl
t "classify --threads 4 --batch 3: output identical to --threads 1" '[ $rc -eq 1 ] && cmp -s $O gen.t1'
run $TMO "$AITAG" classify -m "$M" --threads 4 - <gen.jsonl
sed 's/"<stdin>:\([0-9]\)/"gen.jsonl:\1/' "$O" >gen.stdin
t "classify --threads 4 from stdin: output identical to the file (but for the name in messages)" '[ $rc -eq 1 ] && cmp -s gen.stdin gen.t1'

# -- output formats ----------------------------------------------------------------
run "$AITAG" classify -m "$M" --format tsv health.txt energy.txt
# tsv_has FILE ID LABELS: a line "ID<tab>LABELS<tab>probability"
tsv_has() {
    awk -F '\t' -v id="$2" -v l="$3" '$1 == id && $2 == l && $3 ~ /^[01]\.[0-9]+$/ && NF == 3 { f = 1 } END { exit !f }' "$1"
}
t "classify --format tsv: id, labels, probabilities separated by tabs" \
    '[ $rc -eq 0 ] && [ "$(nlines $O)" -eq 2 ] && tsv_has $O health.txt healthcare && tsv_has $O energy.txt energy'
run "$AITAG" classify -m "$M" --format text health.txt energy.txt
t "classify --format text: 'FILE: label probability' lines" \
    '[ $rc -eq 0 ] && [ "$(nlines $O)" -eq 2 ] && grep -q "^health.txt: healthcare [01]\.[0-9][0-9]$" $O && grep -q "^energy.txt: energy [01]\.[0-9][0-9]$" $O'
printf '{"id": "a\\tb\\nc", "text": "bank fraud"}\n{"id": "plain", "text": "grid"}\n' >oddid.jsonl
run "$AITAG" classify -m "$M" --format tsv oddid.jsonl
t "classify --format tsv: an id with a tab and a newline still gives one line of 3 fields per record" \
    '[ $rc -eq 0 ] && [ "$(nlines $O)" -eq 2 ] && [ "$(awk -F "\t" "NF != 3" $O | wc -l)" -eq 0 ]'
run "$AITAG" classify -m "$M" --format text oddid.jsonl
t "classify --format text: an id with a newline still gives one line per record" '[ $rc -eq 0 ] && [ "$(nlines $O)" -eq 2 ]'

# -- decisions ----------------------------------------------------------------------
printf '%s\n' \
    '{"id": "both", "text": "A surgical robot arm assists doctors in the hospital operating room for patients."}' \
    '{"id": "none", "text": "zebra quantum lorem ipsum"}' \
    '{"id": "bank", "text": "The bank checks card payments for fraud."}' >dec.jsonl
run "$AITAG" classify -m "$M" --margins dec.jsonl
cp "$O" dec.full
t "classify --margins: exit 0, a margins object per line" '[ $rc -eq 0 ] && [ "$(grep -c "\"margins\": {" dec.full)" -eq 3 ]'
run "$AITAG" classify -m "$M" --margins --top-k 1 dec.jsonl
if [ $PY = 1 ]; then
    if [ $rc -eq 0 ] && py topk dec.full "$O" 1; then ok "classify --top-k 1: at most one tag, the best-margin one"; else fail "classify --top-k 1" "rc=$rc $(pymsg)"; fi
else
    t "classify --top-k 1: at most one tag" '[ $rc -eq 0 ] && ! grep -q "\"labels\": \[[^]]*,[^]]*\]" $O'
fi
t "classify: the two-topic article gets 2 tags without --top-k (fixture sanity)" \
    'grep -q "^{\"id\": \"both\", \"labels\": \[\"[a-z]*\", \"[a-z]*\"\]" dec.full'
run "$AITAG" classify -m "$M" --margins --min-labels 3 dec.jsonl
if [ $PY = 1 ]; then
    if [ $rc -eq 0 ] && py minlabels dec.full "$O" 3; then ok "classify --min-labels 3: at least 3 tags, passing tags kept, best margins added"; else fail "classify --min-labels 3" "rc=$rc $(pymsg)"; fi
else
    t "classify --min-labels 3: the untaggable article gets 3 tags" '[ $rc -eq 0 ] && grep -q "^{\"id\": \"none\", \"labels\": \[\"[a-z]*\", \"[a-z]*\", \"[a-z]*\"\]" $O'
fi
t "classify: the nonsense article gets no tag by default (fixture sanity)" 'grep -q "^{\"id\": \"none\", \"labels\": \[\]" dec.full'

run "$AITAG" classify -m "$M" --explain 3 health.txt
if [ $PY = 1 ]; then
    if [ $rc -eq 0 ] && py explain "$O" health.txt 3; then ok "classify --explain 3: 1-3 terms from the article per tag"; else fail "classify --explain 3" "rc=$rc $(pymsg)"; fi
else
    t "classify --explain 3: lists terms" '[ $rc -eq 0 ] && grep -q "\"explain\": {\"healthcare\": \[\[\"" $O'
fi

# -- sizes and odd inputs -------------------------------------------------------------
: >empty.txt
run "$AITAG" classify -m "$M" empty.txt
t "classify an empty text file: exit 0, one line for it" '[ $rc -eq 0 ] && valid_jsonl $O 1 && grep -q "^{\"id\": \"empty.txt\", \"labels\": " $O'
: >empty2.jsonl
run "$AITAG" classify -m "$M" empty2.jsonl
t "classify an empty .jsonl: exit 0, no output" '[ $rc -eq 0 ] && empty $O'

awk 'BEGIN { for (i = 0; i < 30; i++) s = s "grid power solar "; print "{\"id\": \"long\", \"text\": \"" s "\"}" }' >long.jsonl
printf '{"id": "short", "text": "bank fraud"}\n' >short.jsonl
cat short.jsonl long.jsonl short.jsonl >mixlen.jsonl
run "$AITAG" classify -m "$M" --max-bytes 200 mixlen.jsonl
t "classify --max-bytes 200: a longer JSON line becomes an error line in place" \
    '[ $rc -eq 1 ] && valid_jsonl $O 3 && sed -n 2p $O | grep -q "\"error\": .*max-bytes" && sed -n 3p $O | grep -q "^{\"id\": \"short\", \"labels\""'

# 50 MB article: the health article doubled to ~1.4 MB, then 36 times that.
cp health.txt chunk.txt
i=0
while [ $i -lt 12 ]; do cat chunk.txt chunk.txt >chunk2.txt && mv chunk2.txt chunk.txt; i=$((i + 1)); done
: >huge.txt
i=0
while [ $i -lt 36 ]; do cat chunk.txt >>huge.txt; i=$((i + 1)); done
rm -f chunk.txt
hsize=$(wc -c <huge.txt | tr -d ' ')
run $TMO "$AITAG" classify -m "$M" huge.txt
t "classify a $hsize-byte article: exit 0, one line, tagged healthcare" \
    '[ $hsize -ge 50000000 ] && [ $rc -eq 0 ] && valid_jsonl $O 1 && grep -q "^{\"id\": \"huge.txt\", \"labels\": \[\"healthcare\"\]" $O'
run $TMO "$AITAG" classify -m "$M" --max-bytes 1000000 huge.txt
t "classify the 50 MB article with --max-bytes 1000000: exit 1 (no crash), one error line naming it" \
    '[ $rc -eq 1 ] && valid_jsonl $O 1 && grep -q "^{\"id\": \"huge.txt\", \"error\": " $O'
run $TMO "$AITAG" classify -m "$M" --max-bytes 1000000 health.txt huge.txt energy.txt
t "classify --max-bytes: the too-large file is an error line between two classified ones" \
    '[ $rc -eq 1 ] && valid_jsonl $O 3 && sed -n 2p $O | grep -q "\"error\"" && sed -n 3p $O | grep -q "\"labels\": \[\"energy\"\]"'
rm -f huge.txt

head -c 100000 /dev/urandom >garbage.bin
run "$AITAG" classify -m "$M" garbage.bin
t "classify binary garbage as text: exit 0 or 1, no signal, one valid line" '[ $rc -le 1 ] && valid_jsonl $O 1'
cp garbage.bin garbage.jsonl
run "$AITAG" classify -m "$M" --threads 4 garbage.jsonl
t "classify binary garbage as JSON lines: exit 0 or 1, no signal, valid JSON lines" '[ $rc -le 1 ] && valid_jsonl $O'
run "$AITAG" tokenize garbage.bin
t "tokenize binary garbage: exit 0 or 1, no signal" '[ $rc -le 1 ]'
run "$AITAG" train -q -i garbage.jsonl -o g.aitag
t "train on binary garbage: exit 1, no signal" '[ $rc -eq 1 ]'
run "$AITAG" eval -m "$M" -i garbage.jsonl
t "eval on binary garbage: exit 0 or 1, no signal" '[ $rc -le 1 ]'
run "$AITAG" info garbage.bin
t "info on binary garbage: exit 1 naming the file" '[ $rc -eq 1 ] && grep -q "garbage.bin" $E'

# -- write errors ---------------------------------------------------------------------
if [ -w /dev/full ]; then
    "$AITAG" classify -m "$M" health.txt >/dev/full 2>"$E"
    rc=$?
    t "classify > /dev/full (small output): exit 1 with a write error message" '[ $rc -eq 1 ] && grep -q "^aitag: .*writ.*No space left" $E'
    "$AITAG" classify -m "$M" --threads 2 gen.jsonl >/dev/full 2>"$E"
    rc=$?
    t "classify > /dev/full (large output): exit 1 with a write error message" '[ $rc -eq 1 ] && grep -q "^aitag: .*writ.*No space left" $E'
    t "classify > /dev/full: no write error message with a wrong cause" '! grep "writ" $E | grep -vq "No space left"'
    "$AITAG" tokenize gen.jsonl >/dev/full 2>"$E"
    rc=$?
    t "tokenize > /dev/full: exit 1 with a write error message" '[ $rc -eq 1 ] && grep -q "^aitag: .*writ" $E'
else
    skip "/dev/full is not writable here: write-error checks skipped"
fi

{
    $TMO "$AITAG" classify -m "$M" --threads 2 big.jsonl 2>pipe.err
    echo $? >pipe.rc
} | head -1 >pipe.out
prc=$(cat pipe.rc)
rc=$prc
t "classify big.jsonl | head -1: aitag ends with exit 1 (not a signal, not a hang)" '[ "$prc" -eq 1 ]'
t "classify big.jsonl | head -1: head got the first line, aitag reported the write error" \
    'grep -q "^{\"id\": \"g0_1\"" pipe.out && grep -q "^aitag: .*writ" pipe.err'

# -- bad model files --------------------------------------------------------------------
msize=$(wc -c <"$M" | tr -d ' ')
head -c $((msize / 2)) "$M" >trunc.aitag
head -c 64 "$M" >prefix.aitag
cp "$M" corrupt.aitag
off=$((msize - 100))
printf '\377' | dd of=corrupt.aitag bs=1 seek=$off conv=notrunc 2>/dev/null
cmp -s corrupt.aitag "$M" && printf '\001' | dd of=corrupt.aitag bs=1 seek=$off conv=notrunc 2>/dev/null
cp "$M" badhdr.aitag
printf 'X' | dd of=badhdr.aitag bs=1 seek=80 conv=notrunc 2>/dev/null
cp health.txt foreign.aitag
: >zero.aitag
t "fixture: corrupt.aitag and badhdr.aitag differ from the model" '! cmp -s corrupt.aitag "$M" && ! cmp -s badhdr.aitag "$M"'
for f in trunc prefix corrupt badhdr foreign zero nosuch; do
    run "$AITAG" classify -m $f.aitag health.txt
    t "classify -m $f.aitag: exit 1, message names the file, no output" '[ $rc -eq 1 ] && grep -q "^aitag: .*$f.aitag" $E && empty $O'
done
run "$AITAG" info corrupt.aitag
t "info corrupt.aitag: exit 1, message names the file" '[ $rc -eq 1 ] && grep -q "corrupt.aitag" $E'
run "$AITAG" eval -m trunc.aitag -i test.jsonl
t "eval -m trunc.aitag: exit 1, message names the file" '[ $rc -eq 1 ] && grep -q "trunc.aitag" $E'

# ===== eval ========================================================================

run "$AITAG" eval -m "$M" -i test.jsonl
t "eval: exit 0, table with micro and macro rows" '[ $rc -eq 0 ] && grep -q "^micro  *[01]\.[0-9]" $O && grep -q "^macro  *[01]\.[0-9]" $O'
t "eval: warning names the unknown label 'space'" 'grep -q "^aitag: warning: .*space.*not in the model" $E'
t "eval: the unknown label is listed with support 1" 'grep -q "^space .* 1  (not in the model)$" $O'
run "$AITAG" eval -m "$M" -i test.jsonl --json
cp "$O" eval.json
run "$AITAG" classify -m "$M" --scores none test.jsonl
cp "$O" test.pred
if [ $PY = 1 ]; then
    tj "eval --json: docs, accuracy, micro/macro precision/recall/f1, labels; metrics match classify's tags" eval eval.json test.jsonl test.pred
else
    t "eval --json: has the keys" 'grep -q "\"docs\": 6" eval.json && grep -q "\"micro\": {\"precision\"" eval.json && grep -q "\"macro\": {\"precision\"" eval.json && grep -q "\"labels\": {" eval.json'
fi
{ head -2 test.jsonl; printf '{"id": "q", "text": \n{"id": "r", "text": "labels missing"}\n'; sed -n '3,$p' test.jsonl; } >test_bad.jsonl
run "$AITAG" eval -m "$M" -i test_bad.jsonl
t "eval: malformed lines reported as test_bad.jsonl:3 and :4, exit 1" \
    '[ $rc -eq 1 ] && grep -q "test_bad.jsonl:3" $E && grep -q "test_bad.jsonl:4" $E && grep -q "^micro" $O'
run "$AITAG" eval -m "$M" -i "$DATA/train.ft"
t "eval: fastText test corpus works" '[ $rc -eq 0 ] && grep -q "^documents 46" $O'

# ===== info ========================================================================

run "$AITAG" info "$M"
t "info: exit 0, lists the 4 labels" '[ $rc -eq 0 ] && grep -q "^labels (4): energy.*finance.*healthcare.*robotics" $O && empty $E'
run "$AITAG" info --json "$M"
if [ $PY = 1 ]; then
    # shellcheck disable=SC2086
    if [ $rc -eq 0 ] && py info "$O" $LABELS; then ok "info --json: valid JSON, labels = $LABELS"; else fail "info --json" "rc=$rc $(pymsg)"; fi
else
    t "info --json: has labels" '[ $rc -eq 0 ] && grep -q "\"labels\"" $O'
fi
run "$AITAG" info "$M" "$M"
t "info with two models: usage error" '[ $rc -eq 2 ] && empty $O'

# ===== tokenize ====================================================================

printf '\357\274\241\357\274\251\n' >fw.txt     # fullwidth "ＡＩ"
run "$AITAG" tokenize fw.txt
t "tokenize: fullwidth ＡＩ -> ai" '[ $rc -eq 0 ] && [ "$(cat $O)" = "ai" ] && empty $E'
printf '데이터센터에 데이터센터를\n' >ko.txt
run "$AITAG" tokenize ko.txt
t "tokenize: Korean words with particles are kept whole" '[ $rc -eq 0 ] && [ "$(cat $O)" = "데이터센터에|데이터센터를" ]'
run "$AITAG" tokenize --all ko.txt
tr '|' '\n' <"$O" >ko.terms
shared=0
for b in 데이 이터 터센 센터; do [ "$(grep -cx "$b" ko.terms)" -eq 2 ] && shared=$((shared + 1)); done
t "tokenize --all: 데이터센터에 and 데이터센터를 share the bigrams 데이 이터 터센 센터" '[ $rc -eq 0 ] && [ $shared -eq 4 ] && grep -qx 터에 ko.terms && grep -qx 터를 ko.terms'
printf 'AI반도체\n' >mix.txt
run "$AITAG" tokenize mix.txt
t "tokenize: a change of script splits AI반도체 -> ai|반도체" '[ $rc -eq 0 ] && [ "$(cat $O)" = "ai|반도체" ]'
printf 'ab\377cd\n' >badutf.txt
run "$AITAG" tokenize badutf.txt
t "tokenize: invalid UTF-8 -> separator, warning on stderr naming the file" \
    '[ $rc -eq 0 ] && [ "$(cat $O)" = "ab|cd" ] && grep -q "^aitag: warning: badutf.txt.*invalid UTF-8" $E'
run "$AITAG" tokenize --json ko.txt
if [ $PY = 1 ]; then
    if [ $rc -eq 0 ] && py tokens "$O" '["데이터센터에", "데이터센터를"]' 0; then ok "tokenize --json: tokens and invalid_utf8"; else fail "tokenize --json" "rc=$rc $(pymsg)"; fi
else
    t "tokenize --json" '[ $rc -eq 0 ] && grep -q "\"tokens\": \[\"데이터센터에\", \"데이터센터를\"\]" $O'
fi
run "$AITAG" tokenize --json badutf.txt
if [ $PY = 1 ]; then
    if [ $rc -eq 0 ] && py tokens "$O" '["ab", "cd"]' 1; then ok "tokenize --json: invalid_utf8 counted"; else fail "tokenize --json invalid UTF-8" "rc=$rc $(pymsg)"; fi
else
    t "tokenize --json: invalid_utf8 counted" '[ $rc -eq 0 ] && grep -q "\"invalid_utf8\": 1" $O'
fi
run "$AITAG" tokenize - <test.jsonl
t "tokenize -: one line per JSON record" '[ $rc -eq 0 ] && [ "$(nlines $O)" -eq 6 ]'
run "$AITAG" tokenize -m "$M" fw.txt
t "tokenize -m MODEL uses the model's tokenizer" '[ $rc -eq 0 ] && [ "$(cat $O)" = "ai" ]'

# ===== bench =======================================================================

if [ $BENCH = 0 ]; then
    skip "aitag bench: not implemented yet ('aitag bench --help' says so): 2 checks skipped"
else
    run $TMO "$AITAG" bench -m "$M" -i test.jsonl --repeat 1
    t "bench --repeat 1: exit 0, prints docs/s" '[ $rc -eq 0 ] && grep -q "docs/s" $O'
    t "bench --repeat 1: counts the 6 articles of the input" 'grep -q "6 articles" $O'
    run $TMO "$AITAG" bench -m "$M" -i test.jsonl --repeat 1 --json
    if [ $PY = 1 ]; then
        if [ $rc -eq 0 ] && py bench "$O" 6 4; then ok "bench --json: valid JSON, docs 6, labels 4"; else fail "bench --json" "rc=$rc $(pymsg)"; fi
    else
        t "bench --json: a JSON object" '[ $rc -eq 0 ] && grep -q "^{.*}$" $O'
    fi
fi


# -- labels with odd characters ------------------------------------------------------
# Spaces, quotes, a backslash, a slash, a comma, Hangul and an emoji in label names:
# they must survive training, the model file, and every output format unchanged.
{
    i=0
    while [ $i -lt 8 ]; do
        printf '{"text": "gpu wafer fab lithography %d", "labels": ["chips \\"AI\\" / 반도체"]}\n' $i
        printf '{"text": "warehouse picking arm gripper %d", "labels": ["robots, arms \\\\ 🚀"]}\n' $i
        printf '{"text": "quarterly dividend bank loans %d", "labels": []}\n' $i
        i=$((i + 1))
    done
} >oddlab.jsonl
run "$AITAG" train -q --min-df 1 -i oddlab.jsonl -o oddlab.aitag
t "train: labels with quotes, backslash, comma, Hangul and emoji are accepted" '[ $rc -eq 0 ]'
run "$AITAG" info --json oddlab.aitag
t "info --json keeps the odd label names verbatim (JSON-escaped)" \
    'grep -F -q "\"chips \\\"AI\\\" / 반도체\"" $O && grep -F -q "\"robots, arms \\\\ 🚀\"" $O'
printf 'new gpu wafer fab\n' >oddlab.txt
run "$AITAG" classify -m oddlab.aitag --scores none oddlab.txt
t "classify prints the odd label as valid JSON" 'grep -F -q "[\"chips \\\"AI\\\" / 반도체\"]" $O'
run "$AITAG" classify -m oddlab.aitag --format tsv oddlab.txt
t "classify --format tsv prints the odd label as it is" 'grep -F -q "chips \"AI\" / 반도체" $O'

# ===================================================================================

if [ $FAILED -ne 0 ]; then
    echo "# $FAILED of $N checks failed"
    exit 1
fi
echo "# all $N checks passed"
exit 0

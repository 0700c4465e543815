#!/bin/sh
# test_default_model.sh AITAG SOURCE_DIR MODEL: the default model, built from datasets/ai-sectors.
#  - it is found without -m (AITAG_MODEL) and tags the Korean data-center sample `datacenter`;
#  - on the corpus's own test split: micro-F1 >= 0.90 and every label's F1 >= 0.80;
#  - on the development set: micro-F1 >= 0.92, recall >= 0.85 on articles with three labels or more,
#    at most 2% of the no-label articles tagged, every language's micro-F1 >= 0.85;
#  - evidence: each tag of a three-paragraph article points at its own paragraph, byte for byte;
#  - rebuilding it with the recorded settings gives the same bytes.
set -u
aitag=$1 src=$2 model=$3
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; fails=$((fails + 1)); }

out=$(AITAG_MODEL="$model" "$aitag" classify --scores none "$src/datasets/samples/01-ko-datacenter.txt") || no "classify exit status"
case $out in *'"labels": ["datacenter"'*) ok "Korean data-center article tagged datacenter: $out" ;;
*) no "Korean data-center article: $out" ;; esac

out=$(AITAG_MODEL="$model" "$aitag" classify --scores none "$src/datasets/samples/04-en-none-bank.txt")
case $out in *'"labels": []'*) ok "bank earnings article gets no tag" ;; *) no "bank earnings article: $out" ;; esac

"$aitag" eval -m "$model" -i "$src/datasets/ai-sectors/test.jsonl" --json > "$tmp/eval.json" || no "eval exit status"
/usr/bin/python3 - "$tmp/eval.json" <<'PY' && ok "test split: micro-F1 >= 0.90, every label F1 >= 0.80" || no "test split quality"
import json, sys
d = json.load(open(sys.argv[1]))
micro = d["micro"]["f1"]
worst = min(d["labels"].items(), key=lambda kv: kv[1]["f1"])
print(f"     micro-F1 {micro:.4f}, macro-F1 {d['macro']['f1']:.4f}, lowest {worst[0]} {worst[1]['f1']:.4f}")
sys.exit(0 if micro >= 0.90 and worst[1]["f1"] >= 0.80 else 1)
PY

# the development set, as `aitag classify` tags it
dev="$src/datasets/ai-sectors/dev.jsonl"
"$aitag" classify -m "$model" --scores none --input-format jsonl "$dev" > "$tmp/dev.out" || no "classify the development set"
/usr/bin/python3 - "$dev" "$tmp/dev.out" <<'PY' && ok "development set: micro-F1 >= 0.92, 3+ recall >= 0.85, <= 2% of no-label articles tagged, every language >= 0.85" || no "development-set quality"
import collections, json, sys
gold = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
pred = [json.loads(l)["labels"] for l in open(sys.argv[2], encoding="utf-8")]
assert len(gold) == len(pred), (len(gold), len(pred))
def prf(pairs):
    tp = sum(len(set(g) & set(p)) for g, p in pairs)
    fp = sum(len(set(p) - set(g)) for g, p in pairs)
    fn = sum(len(set(g) - set(p)) for g, p in pairs)
    return tp / max(1, tp + fn), 2 * tp / max(1, 2 * tp + fp + fn)
pairs = [(d["labels"], p) for d, p in zip(gold, pred)]
micro = prf(pairs)[1]
rec3 = prf([x for x in pairs if len(x[0]) >= 3])[0]
none = [p for g, p in pairs if not g]
tagged = sum(1 for p in none if p) / max(1, len(none))
by_lang = collections.defaultdict(list)
for d, p in zip(gold, pred):
    by_lang[d["lang"] + ("-Hant" if d.get("script") == "Hant" else "")].append((d["labels"], p))
langs = {k: prf(v)[1] for k, v in by_lang.items()}
print(f"     micro-F1 {micro:.4f}, 3+ recall {rec3:.4f}, no-label tagged {tagged:.4f}, "
      + ", ".join(f"{k} {v:.3f}" for k, v in sorted(langs.items())))
sys.exit(0 if micro >= 0.92 and rec3 >= 0.85 and tagged <= 0.02 and min(langs.values()) >= 0.85 else 1)
PY

# evidence: three paragraphs, three subjects; each tag's passage is its paragraph, byte for byte
/usr/bin/python3 - "$aitag" "$model" <<'PY' && ok "evidence offsets: each tag points at its own paragraph" || no "evidence offsets"
import json, subprocess, sys
paras = [
    "Samsung Electronics said on Tuesday it had started mass production of twelve-layer HBM4 memory for AI "
    "accelerators at its Pyeongtaek fab, and that the new stacks use a logic base die made on its own four "
    "nanometre foundry process. The chipmaker expects the memory to ship inside Nvidia's next GPUs.",
    "In football, the city's club won its third match in a row on Sunday, with two goals in the second half "
    "in front of a sold-out stadium. The coach praised the young defenders and said the team would rotate "
    "players before the cup game on Wednesday evening against the league leaders.",
    "Separately, a logistics group put two hundred humanoid robots to work in its warehouses near Lyon. The "
    "robots pick parcels from shelves, load trolleys and learn new tasks from demonstrations, and the group "
    "plans to add robotic arms to its sorting lines next year after a successful pilot.",
]
text = "\n\n".join(paras)
line = json.dumps({"id": "e", "text": text})
out = subprocess.run([sys.argv[1], "classify", "-m", sys.argv[2], "--evidence", "--scores", "none", "-"],
                     input=line.encode(), capture_output=True, check=True).stdout
r = json.loads(out)
raw = text.encode()
spans = {}
at = 0
for i, p in enumerate(paras):
    b = p.encode()
    start = raw.index(b, at)
    spans[i] = (start, start + len(b))
    at = start + len(b)
want = {"chips": spans[0], "robotics": spans[2]}
print("     tags", r["labels"], "evidence", r.get("evidence"))
ok = all(l in r["labels"] for l in want)
for l, (s, e) in want.items():
    ev = r.get("evidence", {}).get(l)
    ok = ok and ev is not None and (ev["start"], ev["end"]) == (s, e) and raw[s:e].decode() == paras[0 if l == "chips" else 2]
ok = ok and all(set(r["evidence"]) == set(r["labels"]) for _ in [0])
sys.exit(0 if ok else 1)
PY

args=$(cat "$src/models/default.args")
# shellcheck disable=SC2086
SOURCE_DATE_EPOCH=1767225600 "$aitag" train -q -i "$src/datasets/ai-sectors/train.jsonl" -o "$tmp/again.aitag" $args \
    || no "retraining the default model"
if cmp -s "$model" "$tmp/again.aitag"; then ok "rebuilding the default model reproduces it byte for byte"
else no "rebuilt default model differs"; fi

[ "$fails" -eq 0 ] && echo "all default-model checks passed" || echo "$fails default-model check(s) failed"
exit $((fails > 0))

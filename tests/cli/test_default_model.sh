#!/bin/sh
# test_default_model.sh AITAG SOURCE_DIR MODEL: the default model, built from datasets/ai-sectors.
#  - it is found without -m (AITAG_MODEL) and tags the Korean data-center sample `datacenter`;
#  - on the corpus's own test split: micro-F1 >= 0.90 and every label's F1 >= 0.80;
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
python3 - "$tmp/eval.json" <<'PY' && ok "test split: micro-F1 >= 0.90, every label F1 >= 0.80" || no "test split quality"
import json, sys
d = json.load(open(sys.argv[1]))
micro = d["micro"]["f1"]
worst = min(d["labels"].items(), key=lambda kv: kv[1]["f1"])
print(f"     micro-F1 {micro:.4f}, macro-F1 {d['macro']['f1']:.4f}, lowest {worst[0]} {worst[1]['f1']:.4f}")
sys.exit(0 if micro >= 0.90 and worst[1]["f1"] >= 0.80 else 1)
PY

args=$(cat "$src/models/default.args")
# shellcheck disable=SC2086
SOURCE_DATE_EPOCH=1767225600 "$aitag" train -q -i "$src/datasets/ai-sectors/train.jsonl" -o "$tmp/again.aitag" $args \
    || no "retraining the default model"
if cmp -s "$model" "$tmp/again.aitag"; then ok "rebuilding the default model reproduces it byte for byte"
else no "rebuilt default model differs"; fi

[ "$fails" -eq 0 ] && echo "all default-model checks passed" || echo "$fails default-model check(s) failed"
exit $((fails > 0))

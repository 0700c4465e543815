#!/usr/bin/env python3
"""report.py AITAG MODEL SPLIT.jsonl [NAME]: Markdown tables of a model's quality on a labelled split,
per label, per number of gold labels and per language (the "lang" field; Traditional Chinese apart),
as in models/README.md. Run with Debian's /usr/bin/python3."""
import collections
import json
import os
import subprocess
import sys
import tempfile

aitag, model, test = sys.argv[1:4]
name = sys.argv[4] if len(sys.argv) > 4 else "Test split"
with tempfile.TemporaryDirectory() as tmp:
    pred_path = os.path.join(tmp, "pred.jsonl")
    subprocess.run([aitag, "eval", "-m", model, "-i", test, "--predictions", pred_path, "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    preds = [json.loads(l) for l in open(pred_path, encoding="utf-8")]
gold = [json.loads(l) for l in open(test, encoding="utf-8")]
assert len(preds) == len(gold)


def scores(pairs):
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    exact = 0
    for g, p in pairs:
        g, p = set(g), set(p)
        exact += g == p
        for l in g & p:
            tp[l] += 1
        for l in p - g:
            fp[l] += 1
        for l in g - p:
            fn[l] += 1
    labels = sorted(set(tp) | set(fp) | set(fn))
    f1 = {l: 2 * tp[l] / (2 * tp[l] + fp[l] + fn[l]) for l in labels}
    T, F, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro = 2 * T / (2 * T + F + N) if T + F + N else 1.0
    macro = sum(f1.values()) / len(f1) if f1 else 1.0
    prec = {l: tp[l] / (tp[l] + fp[l]) if tp[l] + fp[l] else 0.0 for l in labels}
    rec = {l: tp[l] / (tp[l] + fn[l]) if tp[l] + fn[l] else 0.0 for l in labels}
    sup = {l: tp[l] + fn[l] for l in labels}
    return dict(micro=micro, macro=macro, f1=f1, p=prec, r=rec, support=sup,
                exact=exact / max(1, len(pairs)), n=len(pairs))


pairs = [(g["labels"], p["labels"]) for g, p in zip(gold, preds)]
s = scores(pairs)
none_all = [(g, p) for g, p in pairs if not g]
print(f"{name}: {s['n']} articles; micro-F1 **{s['micro']:.3f}**, macro-F1 **{s['macro']:.3f}**, "
      f"subset accuracy {s['exact']:.3f}; no-label articles tagged: "
      f"{sum(1 for g, p in none_all if p)}/{len(none_all)}.\n")
print("| gold labels | articles | recall | precision |\n|---|---:|---:|---:|")
by_n = collections.defaultdict(list)
for g, p in pairs:
    by_n[min(len(g), 4)].append((g, p))
for k in sorted(by_n):
    if k == 0:
        continue
    tp = sum(len(set(g) & set(p)) for g, p in by_n[k])
    fn = sum(len(set(g) - set(p)) for g, p in by_n[k])
    fp = sum(len(set(p) - set(g)) for g, p in by_n[k])
    print(f"| {k if k < 4 else '4+'} | {len(by_n[k])} | {tp / max(1, tp + fn):.3f} | {tp / max(1, tp + fp):.3f} |")
print()
print("| label | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|")
for l in sorted(s["f1"]):
    print(f"| {l} | {s['p'][l]:.3f} | {s['r'][l]:.3f} | {s['f1'][l]:.3f} | {s['support'][l]} |")
print("\n| language | articles | micro-F1 | macro-F1 | exact match | no-label articles correctly left untagged |")
print("|---|---:|---:|---:|---:|---:|")
by_lang = collections.defaultdict(list)
for g, p in zip(gold, preds):
    by_lang[g.get("lang", "?") + ("-Hant" if g.get("script") == "Hant" else "")].append((g["labels"], p["labels"]))
for lang in sorted(by_lang, key=lambda k: -len(by_lang[k])):
    ps = by_lang[lang]
    t = scores(ps)
    none = [(g, p) for g, p in ps if not g]
    ok = sum(1 for g, p in none if not p)
    print(f"| {lang} | {len(ps)} | {t['micro']:.3f} | {t['macro']:.3f} | {t['exact']:.3f} | {ok}/{len(none)} |")

#!/usr/bin/env python3
"""Statistics of the AI-sector corpus, and (with --check) the requirements it must meet.

usage: stats.py [--check] [DIR]      DIR defaults to this file's folder

Prints document counts per split and language, positives per label (overall and
per language), the multi-label and no-label shares, body lengths, and the
long multi-sector, hard-negative and development-set counts. With --check,
exits 1 if any requirement below fails (each failure is printed).
"""
import collections
import json
import os
import sys

LABELS = ["datacenter", "chips", "robotics", "xr", "smart-home", "mobility",
          "genai", "telecom", "healthcare", "defense", "policy"]
MIN_DOCS = 3000
MIN_PER_LABEL = 150
MIN_MULTI = 0.25
MIN_NONE = 0.10
MIN_LANG_SHARE = {"en": 0.50, "ko": 0.12, "fr": 0.08, "de": 0.03, "ja": 0.03, "zh": 0.03, "es": 0.03}
# long multi-sector articles (kind "multi"): how many, of how many labels, how long
MIN_LONG_MULTI, MIN_LONG_3, MIN_LONG_4 = 600, 150, 40
LONG_CHARS = {"ja": 1200, "zh": 1200}   # CJK: characters; every other language: 2,000 characters
MIN_HANT = 40                            # Traditional Chinese ("script": "Hant") among them
MIN_HARD_NEGATIVES = 400                 # kind "negative" or "trap", no label
MIN_DEV = 300


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            d = json.loads(line)
            for key in ("id", "lang", "text", "labels"):
                if key not in d:
                    raise SystemExit(f"{path}:{n}: missing {key!r}")
            rows.append(d)
    return rows


def check_new_kinds(train, test, folder, need):
    """The long multi-sector articles, hard negatives and the development set."""
    multi = [d for d in train if d.get("kind") == "multi"]
    long_ok = [d for d in multi if len(d["text"]) >= LONG_CHARS.get(d["lang"], 2000)
               and d["text"].count("\n\n") >= 3 and 2 <= len(d["labels"]) <= 5]
    n3 = sum(1 for d in long_ok if len(d["labels"]) >= 3)
    n4 = sum(1 for d in long_ok if len(d["labels"]) >= 4)
    hant = sum(1 for d in long_ok if d.get("script") == "Hant")
    hard = [d for d in train if d.get("kind") in ("negative", "trap") and not d["labels"]]
    langs = collections.Counter(d["lang"] for d in long_ok)
    print(f"\nlong multi-sector articles: {len(long_ok)} of {len(multi)} (3+ labels: {n3}, 4+: {n4}, "
          f"Traditional Chinese: {hant}); by language: {dict(langs.most_common())}")
    print(f"new hard negatives (no label): {len(hard)}")
    need(len(long_ok) >= MIN_LONG_MULTI, f"long multi-sector articles: {len(long_ok)} < {MIN_LONG_MULTI}")
    need(n3 >= MIN_LONG_3, f"long multi-sector articles with 3+ labels: {n3} < {MIN_LONG_3}")
    need(n4 >= MIN_LONG_4, f"long multi-sector articles with 4+ labels: {n4} < {MIN_LONG_4}")
    need(hant >= MIN_HANT, f"Traditional Chinese long articles: {hant} < {MIN_HANT}")
    need(len(hard) >= MIN_HARD_NEGATIVES, f"hard negatives: {len(hard)} < {MIN_HARD_NEGATIVES}")
    for lang in MIN_LANG_SHARE:
        need(langs[lang] > 0, f"no long multi-sector article in {lang}")
    dev_path = os.path.join(folder, "dev.jsonl")
    dev = load(dev_path) if os.path.exists(dev_path) else []
    kinds = collections.Counter(d.get("kind", "?") for d in dev)
    print(f"development set: {len(dev)} articles {dict(kinds)}; "
          f"3+ labels: {sum(1 for d in dev if len(d['labels']) >= 3)}, no label: {sum(1 for d in dev if not d['labels'])}")
    need(len(dev) >= MIN_DEV, f"development set: {len(dev)} < {MIN_DEV} articles")
    others = {d["id"] for d in train + test}
    need(not any(d["id"] in others for d in dev), "the development set shares ids with train or test")
    texts = {d["text"].strip().lower() for d in train + test}
    need(not any(d["text"].strip().lower() in texts for d in dev), "the development set repeats a train or test text")
    for d in dev:
        need(d["lang"] in MIN_LANG_SHARE and not set(d["labels"]) - set(LABELS), f"dev {d['id']}: bad language or label")


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = "--check" in sys.argv[1:]
    folder = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    train = load(os.path.join(folder, "train.jsonl"))
    test = load(os.path.join(folder, "test.jsonl"))
    docs = train + test
    n = len(docs)
    fails = []

    def need(ok, what):
        if not ok:
            fails.append(what)

    print(f"documents: {n} (train {len(train)}, test {len(test)})")
    ids = [d["id"] for d in docs]
    need(len(set(ids)) == n, "ids are not unique")
    need(not ({d["id"] for d in train} & {d["id"] for d in test}), "train and test share ids")
    texts = [d["text"].strip().lower() for d in docs]
    need(len(set(texts)) == n, "some texts are duplicated")
    need(n >= MIN_DOCS, f"fewer than {MIN_DOCS} documents")

    per_label = collections.Counter(l for d in docs for l in d["labels"])
    unknown = set(per_label) - set(LABELS)
    need(not unknown, f"unknown labels: {sorted(unknown)}")
    multi = sum(1 for d in docs if len(d["labels"]) >= 2) / n
    none = sum(1 for d in docs if not d["labels"]) / n
    print(f"two or more labels: {multi:.1%}   no label: {none:.1%}   "
          f"labels per labelled doc: {sum(per_label.values()) / max(1, sum(1 for d in docs if d['labels'])):.2f}")
    need(multi >= MIN_MULTI, f"multi-label share {multi:.1%} < {MIN_MULTI:.0%}")
    need(none >= MIN_NONE, f"no-label share {none:.1%} < {MIN_NONE:.0%}")

    langs = collections.Counter(d["lang"] for d in docs)
    print("\nlanguage   docs   share   train  test")
    for lang, c in langs.most_common():
        tr = sum(1 for d in train if d["lang"] == lang)
        print(f"{lang:8s} {c:6d}  {c / n:6.1%}  {tr:6d} {c - tr:5d}")
    for lang, share in MIN_LANG_SHARE.items():
        need(langs[lang] / n >= share, f"language {lang}: {langs[lang] / n:.1%} < {share:.0%}")

    order = [l for l, _ in langs.most_common()]
    print("\nlabel        total  test  " + " ".join(f"{l:>4s}" for l in order))
    for label in LABELS:
        row = [sum(1 for d in docs if d["lang"] == lang and label in d["labels"]) for lang in order]
        te = sum(1 for d in test if label in d["labels"])
        print(f"{label:12s} {per_label[label]:5d} {te:5d}  " + " ".join(f"{c:4d}" for c in row))
        need(per_label[label] >= MIN_PER_LABEL, f"label {label}: {per_label[label]} < {MIN_PER_LABEL} positives")
        for lang, c in zip(order, row):
            need(c > 0, f"label {label} never appears in {lang}")
        need(te > 0, f"label {label} has no test document")
    nonerow = [sum(1 for d in docs if d["lang"] == lang and not d["labels"]) for lang in order]
    print(f"{'(none)':12s} {sum(nonerow):5d} {sum(1 for d in test if not d['labels']):5d}  "
          + " ".join(f"{c:4d}" for c in nonerow))

    words = sorted(len(d["text"].split()) for d in docs if d["lang"] not in ("ja", "zh"))
    chars = sorted(len(d["text"]) for d in docs if d["lang"] in ("ja", "zh"))
    if words:
        print(f"\nbody length, space-separated words (not ja/zh): min {words[0]}, "
              f"median {words[len(words) // 2]}, max {words[-1]}")
    if chars:
        print(f"body length, characters (ja/zh): min {chars[0]}, median {chars[len(chars) // 2]}, max {chars[-1]}")

    check_new_kinds(train, test, folder, need)

    if check:
        for f in fails:
            print("FAIL:", f)
        print("check:", "ok" if not fails else f"{len(fails)} failure(s)")
        return 1 if fails else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

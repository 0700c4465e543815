#!/usr/bin/python3
"""Micro-benchmark of the Python package: texts/s through Model.classify_many
(1 and N library threads, parsed dicts and raw JSON lines) and Model.classify
(one call per text), against the CLI (`aitag classify --threads N` on the
same articles as JSON lines, process start and model load included) and a
scikit-learn pipeline (TfidfVectorizer + one-vs-rest LinearSVC, predict only).

usage: /usr/bin/python3 bench/python_bench.py [--docs N] [--threads N] [--repeat K] [--json]
Run from the repository root after a build (PYTHONPATH=python is set here).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
import aitag  # noqa: E402


def best(fn, repeat):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    src = [json.loads(l) for l in open(os.path.join(ROOT, "datasets/ai-sectors/test.jsonl"), encoding="utf-8")]
    train = [json.loads(l) for l in open(os.path.join(ROOT, "datasets/ai-sectors/train.jsonl"), encoding="utf-8")]
    full = lambda d: d["title"] + "\n\n" + d["text"] if d.get("title") else d["text"]
    texts = [full(src[i % len(src)]) for i in range(a.docs)]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    model_path = aitag.default_model_path()
    m = aitag.load(model_path)
    rows = []

    def add(name, secs):
        rows.append({"what": name, "seconds": round(secs, 4), "docs_per_s": round(a.docs / secs),
                     "mb_per_s": round(mb / secs, 2)})

    add("Model.classify, one call per text", best(lambda: [m.classify(t) for t in texts], a.repeat))
    for th in sorted({1, a.threads}):
        add("Model.classify_many, %d thread(s), dicts" % th,
            best(lambda: m.classify_many(texts, threads=th), a.repeat))
        add("Model.classify_many, %d thread(s), raw JSON lines" % th,
            best(lambda: m.classify_many(texts, threads=th, raw=True), a.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        cli = os.environ.get("AITAG_CLI") or os.path.join(ROOT, "build", "aitag")
        for th in sorted({1, a.threads}):
            add("aitag classify --threads %d (CLI, whole process)" % th,
                best(lambda: subprocess.run([cli, "classify", "-m", model_path, "--threads", str(th), path],
                                            stdout=subprocess.DEVNULL, check=True), a.repeat))
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MultiLabelBinarizer
        from sklearn.svm import LinearSVC
        Y = MultiLabelBinarizer().fit_transform([d["labels"] for d in train])
        pipe = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
                             OneVsRestClassifier(LinearSVC()))
        pipe.fit([full(d) for d in train], Y)
        add("scikit-learn TF-IDF + LinearSVC predict", best(lambda: pipe.predict(texts), a.repeat))
    except ImportError:
        pass
    if a.json:
        print(json.dumps({"docs": a.docs, "mb": round(mb, 2), "rows": rows}, indent=1))
        return
    print("%d texts, %.1f MB, best of %d; %d cores" % (a.docs, mb, a.repeat, os.cpu_count() or 0))
    print("| what | s | texts/s | MB/s |\n|---|---:|---:|---:|")
    for r in rows:
        print("| %s | %.3f | %s | %.1f |" % (r["what"], r["seconds"], format(r["docs_per_s"], ","), r["mb_per_s"]))


if __name__ == "__main__":
    main()

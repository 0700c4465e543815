#!/usr/bin/python3
"""Dask benchmark (bench/dask.sh runs it): classification docs/s on 1, 2 and 4
local worker processes against `aitag classify` on one machine, and training
time of `python3 -m aitag.dask train` against `aitag train`.

Cluster start-up is timed apart from the work; each classification run is
checked to give the CLI's bytes, each trained model aitag train's bytes.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(ROOT, "python"),
                                                         os.environ.get("PYTHONPATH")]))
import aitag  # noqa: E402
import aitag.dask as ad  # noqa: E402
from aitag import dask_train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=40000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--chunk-bytes", type=int, default=4 << 20)
    ap.add_argument("--train-args", default="--folds 5 --search-C")
    ap.add_argument("--only", choices=["classify", "train"])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from distributed import Client, LocalCluster
    cli = os.environ.get("AITAG_CLI") or os.path.join(ROOT, "build", "aitag")
    model = aitag.default_model_path()
    corpus = os.path.join(ROOT, "datasets", "ai-sectors", "train.jsonl")
    src = open(os.path.join(ROOT, "datasets", "ai-sectors", "test.jsonl"), encoding="utf-8").read().splitlines()
    rnd = random.Random(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(a.docs):
                f.write(rnd.choice(src) + "\n")
        mb = os.path.getsize(path) / 1e6
        cores = os.cpu_count() or 1
        t0 = time.perf_counter()
        expect = subprocess.run([cli, "classify", "-m", model, "--threads", str(cores), path],
                                stdout=subprocess.PIPE, check=True).stdout
        dt = time.perf_counter() - t0
        rows.append({"what": "aitag classify --threads %d" % cores, "startup_s": 0, "seconds": round(dt, 3),
                     "docs_per_s": round(a.docs / dt)})
        env = dict(os.environ, SOURCE_DATE_EPOCH="1767225600")
        ref = os.path.join(tmp, "ref.aitag")
        t0 = time.perf_counter()
        subprocess.run([cli, "train", "-q", "-i", corpus, "-o", ref, "--threads", str(cores)] + a.train_args.split(),
                       check=True, env=env)
        train_ref = time.perf_counter() - t0
        rows.append({"what": "aitag train --threads %d %s" % (cores, a.train_args), "startup_s": 0,
                     "seconds": round(train_ref, 2)})
        os.environ["SOURCE_DATE_EPOCH"] = "1767225600"
        for n in [int(x) for x in a.workers.split(",")]:
            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
            client = Client(cluster)
            client.run(lambda: __import__("aitag.dask"))  # workers import the package once
            startup = time.perf_counter() - t0
            if a.only != "train":
                t0 = time.perf_counter()
                [(out, st)] = ad.classify_files(client, model, [path], chunk_bytes=a.chunk_bytes)
                dt = time.perf_counter() - t0
                assert out == expect, "output differs from aitag classify"
                rows.append({"what": "aitag.dask classify, %d worker(s)" % n, "startup_s": round(startup, 2),
                             "seconds": round(dt, 3), "docs_per_s": round(a.docs / dt)})
            if dask_train.available() and a.only != "classify":
                targs = ad._parser().parse_args(["train", "-i", corpus, "-o", "x"] + a.train_args.split())
                params = {"folds": targs.folds, "search_C": targs.search_C}
                t0 = time.perf_counter()
                m = dask_train.train(client, corpus, **{k: v for k, v in params.items() if v is not None})
                dt = time.perf_counter() - t0
                assert m.to_bytes() == open(ref, "rb").read(), "model differs from aitag train"
                rows.append({"what": "aitag.dask train, %d worker(s)" % n, "startup_s": round(startup, 2),
                             "seconds": round(dt, 2)})
            client.close()
            cluster.close()
    load = os.getloadavg()
    if a.json:
        print(json.dumps({"docs": a.docs, "mb": round(mb, 1), "cores": cores, "load": load, "rows": rows},
                         indent=1))
        return
    print("%d articles, %.1f MB; %d cores; load average %.1f %.1f %.1f" % ((a.docs, mb, cores) + load))
    print("| what | cluster start s | s | docs/s |\n|---|---:|---:|---:|")
    for r in rows:
        print("| %s | %s | %s | %s |" % (r["what"], r["startup_s"] or "-", r["seconds"],
                                         format(r["docs_per_s"], ",") if "docs_per_s" in r else "-"))


if __name__ == "__main__":
    main()

"""Dask: classification on a local cluster of 4 worker processes gives, file by
file, the bytes `aitag classify` prints, also when a worker is killed mid-run."""
import faulthandler
import json
import os
import random
import subprocess

import pytest

import aitag
import aitag.dask as ad
from conftest import CLI, MODEL, PYTHON, TEST, kill_worker_busy_with, read_jsonl, run_cli

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    faulthandler.dump_traceback_later(900, exit=True)  # a hung cluster fails the run, not CI's clock
    cluster = distributed.LocalCluster(n_workers=4, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()
    faulthandler.cancel_dump_traceback_later()


def make_input(path, n, seed=1, crlf=False):
    """n lines of articles (a third without id), with blank, malformed and
    textless lines, a BOM first, CRLF line ends if asked."""
    docs = read_jsonl(TEST)
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        for i in range(n):
            r = rnd.random()
            if r < 0.01:
                line = ""
            elif r < 0.02:
                line = "{not json"
            elif r < 0.03:
                line = json.dumps({"id": "t%d" % i, "title": "no text"})
            else:
                d = dict(rnd.choice(docs))
                if r < 0.35:
                    d.pop("id", None)
                elif r < 0.45:
                    d["id"] = i
                line = json.dumps(d, ensure_ascii=False)
            f.write(line.encode("utf-8") + (b"\r\n" if crlf else b"\n"))
        f.write(json.dumps({"text": "the last line has no newline"}).encode())


def test_classify_files_identical_to_cli(client, tmp_path):
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.ndjson"
    make_input(a, 3000, seed=1)
    make_input(b, 700, seed=2, crlf=True)
    art = tmp_path / "article.txt"
    art.write_text("Samsung starts mass production of HBM4 memory for AI accelerators\r\n")
    missing = tmp_path / "missing.jsonl"
    inputs = [str(a), str(b), str(art), str(missing)]
    out = tmp_path / "out"
    out.mkdir()
    opts = dict(margins=True, explain=2, scores="tags")
    res = ad.classify_files(client, MODEL, inputs, outdir=str(out), chunk_bytes=64 << 10, **opts)
    assert [os.path.basename(p) for p, _ in res] == [os.path.basename(p) + ".tags.jsonl" for p in inputs]
    for path, (dest, st) in zip(inputs, res):
        expect = subprocess.run([CLI, "classify", "-m", MODEL, "--margins", "--explain", "2", "--scores", "tags",
                                 path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        with open(dest, "rb") as f:
            got = f.read()
        assert got == expect, path
        assert st["docs"] == expect.count(b"\n")
    assert res[0][1]["docs"] == 3001 and res[0][1]["bad"] > 0
    # ids of articles without one are whole-file line numbers: unique across pieces
    ids = [json.loads(l)["id"] for l in open(res[0][0], encoding="utf-8")]
    by_line = [k for k, i in enumerate(ids, 1) if isinstance(i, str) and i.isdigit()]
    assert len(by_line) > 900 and all(ids[k - 1] == str(k) for k in by_line)
    # bytes of the model from a loaded Model, shipped, give the same
    m = aitag.load(MODEL)
    [(data, st)] = ad.classify_files(client, m, [str(b)], chunk_bytes=10 << 10, threads=2)
    assert data == run_cli("classify", "-m", MODEL, b, stderr=subprocess.DEVNULL)
    # the model file on shared storage, loaded by each worker
    [(data2, _)] = ad.classify_files(client, MODEL, [str(b)], chunk_bytes=10 << 10, model_on_workers=True)
    assert data2 == data


def test_worker_killed_mid_run(client, tmp_path):
    src = tmp_path / "big.jsonl"
    make_input(src, 12000, seed=3)
    expect = run_cli("classify", "-m", MODEL, "--threads", "2", src, stderr=subprocess.DEVNULL)
    t, killed = kill_worker_busy_with(client, "classify_piece", 60)
    [(data, st)] = ad.classify_files(client, MODEL, [str(src)], chunk_bytes=256 << 10)
    t.join()
    assert killed, "no worker was busy with a piece"
    assert data == expect
    client.wait_for_workers(4, timeout=60)  # the nanny starts a new one


def test_bag_and_dataframe(client):
    import dask.bag as db
    import dask.dataframe as dd
    import pandas as pd
    docs = read_jsonl(TEST)[:300]
    items = []
    for i, d in enumerate(docs):
        items.append(d if i % 3 else {"title": d["title"], "text": d["text"]})
    items[5] = "a plain text about GPU chips and datacenters"
    items[7] = {"title": "no text here"}
    m = aitag.load(MODEL)
    expect = m.classify_records(items, name="<bag>")
    got = ad.classify_bag(db.from_sequence(items, npartitions=7), MODEL, client=client).compute()
    assert got == expect
    assert got[0]["id"] == "1" and got[3]["id"] == "4" and "error" in got[7]
    ids = [str(r["id"]) for r in got]
    assert len(set(ids)) == len(ids)

    texts = [d["text"] for d in docs]
    pdf = pd.DataFrame({"text": texts, "n": range(len(texts))}, index=range(100, 100 + len(texts)))
    out = ad.classify_dataframe(dd.from_pandas(pdf, npartitions=5), MODEL, client=client).compute()
    assert list(out.index) == list(pdf.index)
    assert list(out["labels"]) == [r["labels"] for r in m.classify_many(texts)]


def test_command_line(tmp_path):
    src = tmp_path / "in.jsonl"
    make_input(src, 500, seed=4)
    out = tmp_path / "out"
    env = dict(os.environ)
    p = subprocess.run([PYTHON, "-m", "aitag.dask", "classify", "--scheduler", "local:2", "-m", MODEL,
                        "--chunk-bytes", "20000", str(src), "-o", str(out)], env=env, stderr=subprocess.PIPE,
                       timeout=600)
    assert p.returncode == 1 and b"could not be classified" in p.stderr  # bad lines, as the CLI
    assert (out / "in.jsonl.tags.jsonl").read_bytes() == run_cli("classify", "-m", MODEL, src,
                                                                stderr=subprocess.DEVNULL)
    p = subprocess.run([PYTHON, "-m", "aitag.dask", "classify", "--scheduler", "local:1", "--scores", "bogus",
                        str(src), "-o", str(out)], env=env, stderr=subprocess.PIPE, timeout=600)
    assert p.returncode == 2

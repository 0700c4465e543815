"""The package over libaitag: results equal the CLI's, errors become exceptions,
models round-trip through files, bytes and pickle, and nothing leaks."""
import json
import os
import pickle
import subprocess
import threading

import pytest

import aitag
from conftest import BUILD, CLI, MODEL, PYTHON, TRAIN, full_text, run_cli


def test_load_labels_info(model):
    assert model.labels == sorted(model.labels) and "chips" in model.labels
    info = model.info
    assert [l if isinstance(l, str) else l["name"] for l in info["labels"]] == model.labels or \
        "labels" in info
    assert model.num_features > 1000


def test_default_model_found_without_a_path(monkeypatch):
    monkeypatch.delenv("AITAG_MODEL", raising=False)
    m = aitag.load()
    assert m.to_bytes() == aitag.load(MODEL).to_bytes()


def test_classify_matches_cli(model, test_docs, tmp_path):
    docs = test_docs[:60]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": full_text(d)}, ensure_ascii=False) + "\n"
                           for i, d in enumerate(docs)), encoding="utf-8")
    cli = [json.loads(l) for l in run_cli("classify", "-m", MODEL, "--margins", src).splitlines()]
    for d, c in zip(docs, cli):
        r = model.classify(full_text(d), margins=True)
        assert r["labels"] == c["labels"]
        for k in model.labels:
            assert abs(r["scores"][k] - c["scores"][k]) <= 5.01e-5
            assert abs(r["margins"][k] - c["margins"][k]) <= 5.01e-5


def test_classify_many_equals_cli_line_for_line(model, test_docs, tmp_path):
    texts = [full_text(d) for d in test_docs]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    cli = run_cli("classify", "-m", MODEL, "--threads", "2", "--explain", "3", src)
    cli_dicts = [json.loads(l) for l in cli.splitlines()]
    for threads in (1, 3):
        got = model.classify_many(texts, threads=threads, explain=3)
        assert len(got) == len(texts)
        for g, c in zip(got, cli_dicts):
            c = dict(c)
            c.pop("id")
            assert g == c
    # JSON lines in memory: the very bytes the CLI prints
    assert model.classify_jsonl(src.read_bytes(), name=str(src), threads=2, explain=3) == cli


def test_classify_many_options(model):
    texts = ["Samsung starts mass production of HBM4 memory for AI accelerators",
             "Waymo robotaxis and an LLM voice assistant in the car"]
    r = model.classify_many(texts, scores="tags", margins=True, top_k=1, evidence=True)
    assert [x["labels"] for x in r] == [["chips"], ["mobility"]]
    assert set(r[0]["scores"]) == {"chips"} == set(r[0]["margins"])
    assert set(r[1]["evidence"]) == {"mobility"}
    assert model.classify_many([]) == []
    raw = model.classify_many(texts, raw=True)
    assert raw.count("\n") == 2 and raw.startswith('{"id": "0"')


def test_bad_items_get_error_entries(model):
    bad = "\ud800 lone surrogate"
    r = model.classify_many(["nvidia gpus", None, 42, b"\xff\xfe bytes", ["x"], ""], threads=2)
    assert "labels" in r[0] and "labels" in r[3] and "labels" in r[5]
    for i in (1, 2, 4):
        assert "error" in r[i] and ("item %d" % i) in r[i]["error"]
    with pytest.raises(TypeError):
        model.classify(None)
    assert "labels" in model.classify(bad)  # kept as bytes, invalid UTF-8 counted by the library


def test_jsonl_pieces_keep_whole_file_line_numbers(model):
    lines = [b'{"text": "nvidia gpus"}', b"", b'{"id": 7, "text": "robots"}', b"not json", b'{"text": "x"}']
    whole = model.classify_jsonl(b"\n".join(lines) + b"\n", name="f.jsonl")
    a = model.classify_jsonl(b"\n".join(lines[:2]) + b"\n", name="f.jsonl", first_line=1)
    b = model.classify_jsonl(b"\n".join(lines[2:]) + b"\n", name="f.jsonl", first_line=3)
    assert a + b == whole
    out = [json.loads(l) for l in whole.splitlines()]
    assert [o["id"] for o in out] == ["1", "2", 7, "4", "5"]
    assert out[3]["error"] == ("f.jsonl:4: malformed JSON at column 1: unexpected character "
                               "(expected a value: string, number, object, array, true, false or null)")
    with pytest.raises(aitag.AitagError) as e:
        model.classify_jsonl(b"{}", first_line=0)
    assert e.value.code == "INVALID"


def test_errors_are_exceptions(tmp_path):
    with pytest.raises(aitag.AitagError) as e:
        aitag.load(tmp_path / "absent.aitag")
    assert e.value.code == "IO" and "absent.aitag" in e.value.message
    with pytest.raises(aitag.AitagError) as e:
        aitag.load_bytes(b"not a model at all" * 10, name="junk")
    assert e.value.code == "FORMAT" and e.value.status == 5 and "junk" in e.value.message
    good = aitag.load(MODEL).to_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(aitag.AitagError) as e:
        aitag.load_bytes(bytes(damaged))
    assert e.value.code == "CORRUPT"
    with pytest.raises(aitag.AitagError) as e:
        aitag.load_bytes(good[:100])
    assert e.value.code in ("FORMAT", "CORRUPT")
    with pytest.raises(ValueError):
        aitag.load(MODEL).classify_many(["x"], threads=0)
    with pytest.raises(ValueError):
        aitag.load(MODEL).classify_many(["x"], scores="some")
    with pytest.raises(aitag.AitagError) as e:
        aitag.train([("text", ["bad\nlabel"])] * 4)
    assert e.value.code == "LABEL"
    with pytest.raises(aitag.AitagError) as e:
        aitag.train([])
    assert e.value.code == "EMPTY"
    with pytest.raises(ValueError):
        aitag.train([("a b", ["x"])], C=-1)
    with pytest.raises(TypeError):
        aitag.train([("a b", ["x"])], colour="red")
    bad_corpus = tmp_path / "bad.jsonl"
    bad_corpus.write_text('{"text": "a", "labels": ["x"]}\n{"text": 3}\n')
    with pytest.raises(aitag.AitagError) as e:
        aitag.train(bad_corpus)
    assert e.value.code == "PARSE" and "bad.jsonl:2" in e.value.message
    with pytest.raises(aitag.AitagError):
        aitag.load(MODEL).save(tmp_path / "no" / "such" / "dir" / "m.aitag")


def test_save_load_bytes_pickle(model, tmp_path):
    p = tmp_path / "m.aitag"
    model.save(p)
    assert p.read_bytes() == model.to_bytes()
    assert aitag.load(p).to_bytes() == model.to_bytes()
    m2 = aitag.load_bytes(p.read_bytes())
    text = "Samsung starts mass production of HBM4 memory for AI accelerators"
    assert m2.classify(text) == model.classify(text)
    m3 = pickle.loads(pickle.dumps(model))
    assert m3.labels == model.labels and m3.classify(text) == model.classify(text)


def test_train_equals_cli_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    out = tmp_path / "cli.aitag"
    subprocess.run([CLI, "train", "-q", "-i", TRAIN, "-o", out, "-C", "0.5", "--folds", "2", "--threads", "2",
                    "--word-ngrams", "1"], check=True)
    m = aitag.train(TRAIN, C=0.5, folds=2, threads=1, word_ngrams=1)
    assert m.to_bytes() == out.read_bytes()
    out2 = tmp_path / "passages.aitag"
    subprocess.run([CLI, "train", "-q", "-i", TRAIN, "-o", out2, "--folds", "2", "--passages", "40",
                    "--char-ngrams", "3:4", "--hash-bits", "18"], check=True)
    m2 = aitag.train(TRAIN, folds=2, passages=40, char_ngrams=(3, 4), hash_bits=18)
    assert m2.to_bytes() == out2.read_bytes() and m2.info["passages"]
    out3 = tmp_path / "gate.aitag"
    subprocess.run([CLI, "train", "-q", "-i", TRAIN, "-o", out3, "--folds", "2", "--gate"], check=True)
    assert aitag.train(TRAIN, folds=2, gate=True).to_bytes() == out3.read_bytes()
    assert m.cv_report["folds"] == 2 and 0.5 < m.cv_report["micro_f1"] <= 1


def test_train_from_records(train_docs):
    recs = train_docs[:600]
    m = aitag.train(recs, folds=2, threads=2)
    pairs = [(full_text(d), d["labels"]) for d in recs]
    assert aitag.train(pairs, folds=2, threads=1).to_bytes() == m.to_bytes()
    assert set(m.labels) <= {l for d in recs for l in d["labels"]}
    r = m.classify("Nvidia unveils a new GPU for AI datacenters and TSMC chips")
    assert r["labels"]


def test_threads_share_a_model(model, test_docs):
    texts = [full_text(d) for d in test_docs[:80]]
    expect = [model.classify(t) for t in texts]
    got = [None] * 4
    def work(i):
        got[i] = [model.classify(t) for t in texts]
    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(g == expect for g in got)


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def test_no_leak_over_many_calls(model):
    text = "Samsung starts mass production of HBM4 memory for AI accelerators " * 4
    small = model.to_bytes()
    def burst(n):
        for _ in range(n):
            model.classify(text)
    def batches(n):
        for _ in range(n):
            model.classify_many([text, text], threads=2)
            model.classify_jsonl(b'{"text": "gpu"}\n')
    def models(n):
        for _ in range(n):
            aitag.load_bytes(small).classify(text)
    burst(2000); batches(100); models(5)
    before = _rss_kib()
    burst(100000)
    batches(3000)
    models(100)
    grown = _rss_kib() - before
    # 10^5 classify calls, 3000 batches and 100 models (each several MB): a leak of even
    # one allocation per call would show as megabytes
    assert grown < 8 * 1024, "resident memory grew by %d KiB" % grown


def test_installed_package_finds_its_library(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True, stdout=subprocess.DEVNULL)
    [site] = (prefix / "lib").glob("python3*/dist-packages")
    assert (site / "aitag" / "_installed.py").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("AITAG_LIBRARY", "PYTHONPATH", "AITAG_MODEL")}
    env["PYTHONPATH"] = str(site)
    code = ("import aitag, aitag._ffi as f; print(f.library_path); "
            "print(aitag.load().classify('Samsung HBM4 memory chips')['labels'][0])")
    out = subprocess.run([PYTHON, "-c", code], check=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         text=True).stdout.split()
    assert out[0].startswith(str(prefix)) and out[1] == "chips"

"""Classification (and training) on a Dask cluster.

    python3 -m aitag.dask classify --scheduler local:4 -m MODEL INPUT... -o OUTDIR
    python3 -m aitag.dask train --scheduler tcp://host:8786 -i CORPUS -o MODEL [train options]

Classification: a JSON-lines input is cut into pieces at line ends (byte
ranges of about --chunk-bytes); a first round of tasks counts the lines of
each piece so that every piece knows the number of its first line; a second
round classifies the pieces with the library's batch API
(aitag_stream_add_jsonl_at), so ids of articles without one and error lines
carry the line numbers of the whole file, exactly as `aitag classify FILE`
prints them. Any other input is one article, classified by one task. The
client writes OUTDIR/<input name>.tags.jsonl per input, pieces in input
order, so the output is the CLI's, line for line. Inputs are read by the
workers: on a cluster they must be on storage every worker sees, under the
same path (a local cluster always does).

The model reaches each worker once: its bytes are scattered to every worker
(--model-on-workers loads the file from shared storage instead), and each
worker process keeps the loaded model for all its tasks.

Library functions: classify_files, classify_bag (a Dask bag of articles or
texts) and classify_dataframe (a Dask dataframe with a text column).
"""
import argparse
import hashlib
import os
import sys
import threading
import time

import aitag

_MODELS = {}
_MODELS_LOCK = threading.Lock()


# ---- worker side -------------------------------------------------------------

def _model_on_worker(ref):
    """The worker's copy of a model: ref is ("bytes", key, data) or ("path",
    key, path); loaded once per worker process and kept."""
    kind, key, payload = ref
    m = _MODELS.get(key)
    if m is None:
        with _MODELS_LOCK:
            m = _MODELS.get(key)
            if m is None:
                m = aitag.load_bytes(payload, name=key) if kind == "bytes" else aitag.load(payload)
                _MODELS[key] = m
    return m


def _count_lines(path, start, end):
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start).count(b"\n")


def _classify_piece(ref, path, start, end, first_line, opts):
    m = _model_on_worker(ref)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    return m.classify_jsonl(data, name=path, first_line=first_line, stats=True, **opts)


def _classify_whole(ref, path, opts):
    return _model_on_worker(ref).classify_file(path, stats=True, **opts)


def _is_jsonl(path):
    return path == "-" or path.lower().endswith((".jsonl", ".ndjson"))


def _pieces(path, chunk_bytes):
    """Byte ranges of path cut after a newline, each about chunk_bytes."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as f:
        while cuts[-1] + chunk_bytes < size:
            f.seek(cuts[-1] + chunk_bytes - 1)
            pos = f.tell()
            while True:
                block = f.read(1 << 16)
                if not block:
                    pos = size
                    break
                nl = block.find(b"\n")
                if nl >= 0:
                    pos += nl + 1
                    break
                pos += len(block)
            if pos >= size:
                break
            cuts.append(pos)
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:]))


# ---- client side ---------------------------------------------------------------

def model_ref(client, model, on_workers=False):
    """What tasks get to find the model: its bytes scattered once to every
    worker, or (on_workers=True, model a path) the path to load there."""
    if on_workers:
        path = os.path.abspath(os.fspath(model))
        st = os.stat(path)
        return ("path", "%s:%d:%d" % (path, st.st_size, st.st_mtime_ns), path)
    if isinstance(model, aitag.Model):
        data = model.to_bytes()
    else:
        with open(model if model is not None else aitag.default_model_path(), "rb") as f:
            data = f.read()
    key = "sha256:" + hashlib.sha256(data).hexdigest()
    [fut] = client.scatter([data], broadcast=True, hash=False)
    return ("bytes", key, fut)


class _Job:
    """A task and how to submit it again: a worker lost at the wrong moment can
    leave its future cancelled instead of retried; the piece is computed again
    (the same bytes, since classification is deterministic)."""

    def __init__(self, client, fn, args, tries=3):
        self.client, self.fn, self.args, self.tries = client, fn, args, tries
        self.fut = client.submit(fn, *args, pure=False)

    def result(self):
        from concurrent.futures import CancelledError
        for attempt in range(self.tries):
            try:
                out = self.fut.result()
                self.fut.release()
                return out
            except CancelledError:
                if attempt + 1 == self.tries:
                    raise
                self.fut = self.client.submit(self.fn, *self.args, pure=False)


def classify_files(client, model, inputs, outdir=None, chunk_bytes=8 << 20, model_on_workers=False,
                   out_name=None, **opts):
    """Classifies input files on the cluster. Writes OUTDIR/<name>.tags.jsonl
    per input (when outdir is given) and returns, per input, (output path or
    the output bytes, stats). opts: threads, scores, margins, explain, top_k,
    min_labels, evidence, format, batch (as in `aitag classify`)."""
    ref = model_ref(client, model, on_workers=model_on_workers)
    out_name = out_name or (lambda p: os.path.basename(p) + ".tags.jsonl")
    plans = []
    counts = []
    for path in inputs:
        if _is_jsonl(path) and os.path.isfile(path):
            pieces = _pieces(path, chunk_bytes)
            cf = [client.submit(_count_lines, path, a, b, pure=False) for a, b in pieces]
            plans.append((path, pieces))
            counts.append(cf)
        else:
            plans.append((path, None))
            counts.append(None)
    jobs = []
    for (path, pieces), cf in zip(plans, counts):
        if pieces is None:
            jobs.append([_Job(client, _classify_whole, (ref, path, opts))])
            continue
        n = client.gather(cf)
        first, futs = 1, []
        for (a, b), k in zip(pieces, n):
            futs.append(_Job(client, _classify_piece, (ref, path, a, b, first, opts)))
            first += k
        jobs.append(futs)
    results = []
    names = set()
    for (path, _), futs in zip(plans, jobs):
        total = {"docs": 0, "bad": 0, "in_bytes": 0, "out_bytes": 0}
        dest = None
        if outdir is not None:
            dest = os.path.join(outdir, out_name(path))
            if dest in names:
                raise ValueError("two inputs would write %s" % dest)
            names.add(dest)
            sink = open(dest + ".part", "wb")
        else:
            sink = None
            parts = []
        try:
            for fut in futs:           # in input order, each piece as soon as it is there
                data, st = fut.result()
                for k in total:
                    total[k] += st[k]
                if sink is not None:
                    sink.write(data)
                else:
                    parts.append(data)
        finally:
            if sink is not None:
                sink.close()
        if sink is not None:
            os.replace(dest + ".part", dest)
            results.append((dest, total))
        else:
            results.append((b"".join(parts), total))
    return results


def _classify_partition(items, ref, first_line, name, opts):
    return _model_on_worker(ref).classify_records(list(items), name=name, first_line=first_line, **opts)


def classify_bag(bag, model, client=None, name="<bag>", model_on_workers=False, **opts):
    """A Dask bag of articles (dicts with "text", optional "id" and "title")
    or plain texts -> a bag of result dicts, as `aitag classify` prints them
    for the same articles written as JSON lines: an article without an id
    gets its position (1-based) in the whole bag, unique across partitions."""
    import dask
    import dask.bag as db
    from distributed import default_client
    client = client or default_client()
    ref = model_ref(client, model, on_workers=model_on_workers)
    sizes = bag.map_partitions(lambda p: [len(list(p))]).compute()
    parts, first = [], 1
    for d, n in zip(bag.to_delayed(), sizes):
        parts.append(dask.delayed(_classify_partition)(d, ref, first, name, opts))
        first += n
    return db.from_delayed(parts)


def _classify_frame(df, ref, text, opts):
    import pandas as pd
    m = _model_on_worker(ref)
    res = m.classify_many(list(df[text]), **opts)
    return pd.DataFrame({"labels": [r.get("labels") for r in res], "scores": [r.get("scores") for r in res],
                         "error": [r.get("error") for r in res]}, index=df.index)


def classify_dataframe(df, model, text="text", client=None, model_on_workers=False, **opts):
    """A Dask dataframe with a text column -> a dataframe with the same index
    and columns labels (list), scores (dict) and error (None or a message)."""
    import pandas as pd
    from distributed import default_client
    client = client or default_client()
    ref = model_ref(client, model, on_workers=model_on_workers)
    meta = pd.DataFrame({"labels": pd.Series([], dtype=object), "scores": pd.Series([], dtype=object),
                         "error": pd.Series([], dtype=object)})
    return df.map_partitions(_classify_frame, ref, text, opts, meta=meta)


# ---- command line -----------------------------------------------------------------

def connect(scheduler):
    """A distributed.Client for ADDRESS or local:N (N worker processes on 127.0.0.1)."""
    from distributed import Client, LocalCluster
    if scheduler.startswith("local:"):
        n = int(scheduler[6:])
        if n < 1:
            raise ValueError("local:N needs N >= 1")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster)
    return Client(scheduler)


def _err(msg):
    print("aitag.dask: " + msg, file=sys.stderr)


def _cmd_classify(a):
    if "-" in a.inputs:
        _err("standard input cannot be shared with workers: give files")
        return 2
    if not os.path.isdir(a.output):
        try:
            os.makedirs(a.output)
        except OSError as e:
            _err("%s: %s" % (a.output, e.strerror))
            return 1
    if a.model is None:
        try:
            a.model = aitag.default_model_path()
        except aitag.AitagError as e:
            _err(e.message)
            return 1
    opts = dict(threads=a.threads, scores=a.scores, margins=a.margins, explain=a.explain, top_k=a.top_k,
                min_labels=a.min_labels, evidence=a.evidence, format=a.format, batch=a.batch)
    aitag._model.stream_params(**opts)  # refuse bad options before starting anything
    t0 = time.time()
    client = connect(a.scheduler)
    try:
        res = classify_files(client, a.model, a.inputs, outdir=a.output, chunk_bytes=a.chunk_bytes,
                             model_on_workers=a.model_on_workers, **opts)
    finally:
        client.close()
    docs = sum(st["docs"] for _, st in res)
    bad = sum(st["bad"] for _, st in res)
    if not a.quiet:
        dt = time.time() - t0
        _err("classified %d articles in %d input(s) in %.2f s (%.0f docs/s) -> %s" %
             (docs, len(res), dt, docs / dt if dt > 0 else 0, a.output))
    if bad:
        _err("%d of %d input(s) could not be classified (see the \"error\" lines)" % (bad, docs))
        return 1
    return 0


def _cmd_train(a):
    from aitag import dask_train
    return dask_train.main(a)


def _parser():
    ap = argparse.ArgumentParser(prog="python3 -m aitag.dask",
                                 description="aitag on a Dask cluster: classify files, train a model")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("classify", help="classify input files; one output file per input",
                       description="Classify INPUT files on a Dask cluster; writes OUTDIR/<name>.tags.jsonl per "
                       "input, identical to `aitag classify INPUT`. Example: python3 -m aitag.dask classify "
                       "--scheduler local:4 -m news.aitag big.jsonl -o tags/")
    c.add_argument("inputs", nargs="+", metavar="INPUT")
    c.add_argument("-o", "--output", required=True, metavar="OUTDIR")
    c.add_argument("--scheduler", default="local:%d" % (os.cpu_count() or 1), metavar="ADDRESS|local:N")
    c.add_argument("-m", "--model", help="model file (default: the default model)")
    c.add_argument("--model-on-workers", action="store_true",
                   help="workers load the model file from shared storage (default: its bytes are sent once "
                        "to each worker)")
    c.add_argument("-t", "--threads", type=int, default=1, help="library threads per task (default 1)")
    c.add_argument("--chunk-bytes", type=int, default=8 << 20, help="bytes per task (default 8 MiB)")
    c.add_argument("-f", "--format", default="json", choices=["json", "tsv", "text"])
    c.add_argument("-k", "--top-k", type=int, default=0)
    c.add_argument("--min-labels", type=int, default=0)
    c.add_argument("--scores", default="all", choices=["all", "tags", "none"])
    c.add_argument("--margins", action="store_true")
    c.add_argument("--explain", type=int, default=0)
    c.add_argument("--evidence", action="store_true")
    c.add_argument("--batch", type=int, default=1024)
    c.add_argument("-q", "--quiet", action="store_true")
    c.set_defaults(run=_cmd_classify)
    t = sub.add_parser("train", help="train a model with its jobs as Dask tasks",
                       description="Train like `aitag train` with the training jobs run on a Dask cluster; "
                       "the model is byte-identical to aitag train's with the same options.")
    t.add_argument("--scheduler", default="local:%d" % (os.cpu_count() or 1), metavar="ADDRESS|local:N")
    t.add_argument("-i", "--input", required=True, metavar="CORPUS")
    t.add_argument("-o", "--output", required=True, metavar="MODEL")
    t.add_argument("-C", "--cost", type=float, default=None)
    t.add_argument("--solver", choices=["dcd", "liblinear", "libsvm"])
    t.add_argument("--eps", type=float)
    t.add_argument("--min-df", type=int)
    t.add_argument("--max-df", type=float)
    t.add_argument("--max-features", type=int)
    t.add_argument("--hash-bits", type=int, default=0)
    t.add_argument("--word-ngrams", type=int)
    t.add_argument("--char-ngrams", metavar="MIN:MAX")
    t.add_argument("--strip-accents", action="store_true")
    t.add_argument("--max-token-bytes", type=int)
    t.add_argument("--folds", type=int)
    t.add_argument("--passages", type=int, metavar="WORDS")
    t.add_argument("--search-C", action="store_true")
    t.add_argument("--multi-label", action="store_true")
    t.add_argument("--gate", action="store_true")
    t.add_argument("--seed", type=int)
    t.add_argument("--max-labels", type=int)
    t.add_argument("--skip-bad", action="store_true")
    t.add_argument("-t", "--threads", type=int, default=1, help="library threads per task (default 1)")
    t.add_argument("-q", "--quiet", action="store_true")
    t.set_defaults(run=_cmd_train)
    return ap


def main(argv=None):
    a = _parser().parse_args(argv)
    try:
        return a.run(a)
    except aitag.AitagError as e:
        _err(e.message)
        return 1
    except ValueError as e:
        _err(str(e))
        return 2


if __name__ == "__main__":
    # run from the importable module, so that tasks pickle by reference to aitag.dask
    from aitag.dask import main as _main
    sys.exit(_main())

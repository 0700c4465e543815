"""Training on a Dask cluster, by jobs (python3 -m aitag.dask train).

aitag_train is, underneath, a list of independent jobs, one binary SVM each:
the cross-validation stage (C values x folds x labels), then, after tuning
(the choice of C, thresholds, calibration), the final stage (one job per
label). The library exposes them (aitag_training_* in aitag/train.h) with
each job's result as bytes, so they can run anywhere and the model is still
the one `aitag train` makes, byte for byte (SOURCE_DATE_EPOCH fixes the
creation date in its header).

Here the client reads the corpus (as `aitag train -i` does) and sends the
articles once to every worker; each worker process builds the training
(vocabulary, TF-IDF rows, folds) once and keeps it; tasks run groups of jobs
and return their results; the client, which holds a training of its own,
takes the results in, tunes, ships the cross-validation results once to
every worker (final jobs need the tuned C), collects the final jobs and
assembles the model. A worker lost mid-run is no loss: Dask reruns its tasks
elsewhere, and a job's result does not depend on where it ran.
"""
import hashlib
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import aitag
from aitag._ffi import ffi, has, lib
from aitag._model import AitagError, Dataset, Model, _check, _DATASET_KEYS, _TOKENIZER_KEYS, train_params

CV, FINAL = 0, 1
_CACHE = {}
_CACHE_LOCK = threading.Lock()


def available():
    """Whether the loaded libaitag has the job-level training API."""
    return has("aitag_training_create")


class Training:
    """An aitag_training over a Dataset (which it keeps alive)."""

    def __init__(self, ds, tp):
        self.ds = ds
        out = ffi.new("aitag_training **")
        err = ffi.new("aitag_error *")
        _check(lib.aitag_training_create(ds.ptr, tp, out, err), err)
        self.ptr = ffi.gc(out[0], lib.aitag_training_free)
        self.tuned = False
        self.lock = threading.Lock()

    def num_jobs(self, stage):
        return lib.aitag_training_num_jobs(self.ptr, stage)

    def run(self, stage, j):
        err = ffi.new("aitag_error *")
        _check(lib.aitag_training_run_job(self.ptr, stage, j, err), err)
        n = ffi.new("size_t *")
        _check(lib.aitag_training_job_result(self.ptr, stage, j, ffi.NULL, n, err), err)
        buf = ffi.new("char[]", n[0])
        _check(lib.aitag_training_job_result(self.ptr, stage, j, buf, n, err), err)
        return ffi.unpack(buf, n[0])

    def result(self, stage, j):
        err = ffi.new("aitag_error *")
        n = ffi.new("size_t *")
        _check(lib.aitag_training_job_result(self.ptr, stage, j, ffi.NULL, n, err), err)
        buf = ffi.new("char[]", n[0])
        _check(lib.aitag_training_job_result(self.ptr, stage, j, buf, n, err), err)
        return ffi.unpack(buf, n[0])

    def set(self, stage, j, data):
        err = ffi.new("aitag_error *")
        _check(lib.aitag_training_set_job_result(self.ptr, stage, j, data, len(data), err), err)

    def tune(self):
        rep = ffi.new("aitag_cv_report *")
        err = ffi.new("aitag_error *")
        _check(lib.aitag_training_tune(self.ptr, rep, err), err)
        self.tuned = True
        return {"folds": rep.folds, "C": rep.C, "micro_f1": rep.micro_f1, "macro_f1": rep.macro_f1,
                "accuracy": rep.accuracy, "subset_accuracy": rep.subset_accuracy,
                "c_tried": list(rep.c_tried)[:rep.n_c], "c_score": list(rep.c_score)[:rep.n_c]}

    def finish(self):
        out = ffi.new("aitag_model **")
        err = ffi.new("aitag_error *")
        _check(lib.aitag_training_finish(self.ptr, out, err), err)
        return Model(out[0])


def _split_params(params):
    ds_kw = {k: v for k, v in params.items() if k in _DATASET_KEYS}
    tp_kw = {k: v for k, v in params.items() if k not in _TOKENIZER_KEYS + ("hash_bits", "passages")}
    return ds_kw, tp_kw


def _build(records, params):
    ds_kw, tp_kw = _split_params(params)
    ds = Dataset(**ds_kw)
    ds.add_records(records)
    return Training(ds, train_params(**tp_kw))


# ---- worker side ---------------------------------------------------------------

def _training_on_worker(corpus):
    """The worker's training for corpus = (key, records, params): built once
    per worker process; only the latest training is kept."""
    key, records, params = corpus
    with _CACHE_LOCK:
        t = _CACHE.get(key)
        if t is None:
            _CACHE.clear()
            t = _CACHE[key] = _build(records, params)
    return t


def _run_jobs(corpus, stage, jobs, cv_results, threads):
    t = _training_on_worker(corpus)
    if stage == FINAL:
        with t.lock:
            if not t.tuned:
                for j, data in enumerate(cv_results or ()):
                    t.set(CV, j, data)
                t.tune()
    if threads > 1:
        with ThreadPoolExecutor(threads) as ex:  # jobs of a stage may run at once; cffi drops the GIL
            return list(zip(jobs, ex.map(lambda j: t.run(stage, j), jobs)))
    return [(j, t.run(stage, j)) for j in jobs]


# ---- client side ------------------------------------------------------------------

def _groups(n, parts):
    parts = max(1, min(n, parts))
    return [list(range(i * n // parts, (i + 1) * n // parts)) for i in range(parts)]


def train(client, corpus, skip_bad=False, tasks_per_worker=4, threads=1, log=None, **params):
    """Trains on the cluster; corpus is a file (JSON lines or fastText) or a
    list of (text, labels) pairs; params as aitag.train. Returns the model,
    byte-identical to aitag.train / `aitag train` with the same settings."""
    if not available():
        raise AitagError(lib.AITAG_INVALID, "this libaitag has no job-level training API (aitag_training_*)")
    say = log or (lambda msg: None)
    t0 = time.time()
    ds_kw, tp_kw = _split_params(params)
    tp_kw.setdefault("threads", 1)
    tp = train_params(**tp_kw)  # refuse bad settings before reading anything
    ds = Dataset(**ds_kw)
    if isinstance(corpus, (str, bytes, os.PathLike)):
        records = []
        ds.add_file(corpus, skip_bad=skip_bad, keep=records)
    else:
        records = [(aitag._model._text_bytes(x), [aitag._model._text_bytes(l) for l in ls]) for x, ls in corpus]
        ds.add_records(records)
    if len(ds) == 0:
        raise AitagError(lib.AITAG_EMPTY, "no documents to train on")
    local = Training(ds, tp)
    h = hashlib.sha256(repr(sorted(params.items())).encode())
    for x, ls in records:
        h.update(len(x).to_bytes(8, "little") + x + b"\0".join(ls) + b"\1")
    key = h.hexdigest()
    [corpus_f] = client.scatter([(key, records, params)], broadcast=True, hash=False)
    n_workers = max(1, len(client.scheduler_info()["workers"]))
    say("read %d documents; corpus sent to %d workers (%.1f s)" % (len(ds), n_workers, time.time() - t0))

    def stage_run(stage, cv_f):
        n = local.num_jobs(stage)
        futs = [client.submit(_run_jobs, corpus_f, stage, g, cv_f, threads, pure=False)
                for g in _groups(n, n_workers * tasks_per_worker)]
        for f in futs:
            for j, data in f.result():
                local.set(stage, j, data)
            f.release()
        return n

    n_cv = stage_run(CV, None)
    report = local.tune()
    say("cross-validation: %d jobs (%.1f s); C = %g" % (n_cv, time.time() - t0, report["C"]))
    cv_f = None
    if n_cv:
        [cv_f] = client.scatter([[local.result(CV, j) for j in range(n_cv)]], broadcast=True, hash=False)
    n_final = stage_run(FINAL, cv_f)
    model = local.finish()
    model.cv_report = report if report["folds"] else None
    say("final: %d jobs (%.1f s)" % (n_final, time.time() - t0))
    model.dataset_size, model.dataset_labels = len(ds), ds.num_labels
    return model


def main(a):
    """python3 -m aitag.dask train (arguments parsed by aitag.dask)."""
    from aitag.dask import connect
    params = {}
    for opt, key in (("cost", "C"), ("solver", "solver"), ("eps", "eps"), ("min_df", "min_df"),
                     ("max_df", "max_df"), ("max_features", "max_features"), ("hash_bits", "hash_bits"),
                     ("word_ngrams", "word_ngrams"), ("max_token_bytes", "max_token_bytes"),
                     ("folds", "folds"), ("seed", "seed"), ("max_labels", "max_labels"),
                     ("passages", "passages")):
        v = getattr(a, opt)
        if v is not None:
            params[key] = v
    if a.char_ngrams:
        lo, _, hi = a.char_ngrams.partition(":")
        params["char_ngrams"] = (int(lo), int(hi or lo))
    params["strip_accents"] = a.strip_accents
    params["search_C"] = a.search_C
    params["multi_label"] = a.multi_label
    params["gate"] = a.gate
    out_dir = os.path.dirname(os.path.abspath(a.output))
    if not os.access(out_dir, os.W_OK | os.X_OK):
        print("aitag.dask: %s: cannot write a model in %s" % (a.output, out_dir), file=sys.stderr)
        return 1
    t0 = time.time()
    log = None if a.quiet else (lambda msg: print("aitag.dask: " + msg, file=sys.stderr))
    client = connect(a.scheduler)
    try:
        m = train(client, a.input, skip_bad=a.skip_bad, threads=a.threads, log=log, **params)
    finally:
        client.close()
    m.save(a.output)
    if log:
        log("trained %d labels on %d documents, %d features, in %.1f s -> %s" %
            (len(m.labels), m.dataset_size, m.num_features, time.time() - t0, a.output))
    return 0

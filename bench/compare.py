#!/usr/bin/python3
"""Compare aitag with the text classifiers installed on this machine.

Usage (normally through bench/compare.sh):

    /usr/bin/python3 bench/compare.py DATASET_DIR [--out DIR] [--threads N]
                                      [--aitag PATH] [--limit N] [--only LIST]

DATASET_DIR holds train.jsonl and test.jsonl, one JSON object per line:
{"id": "...", "text": "...", "labels": ["a", ...]}.

Every available tool is trained on train.jsonl and run on test.jsonl; the
results go to DIR/compare.md (Markdown table, also printed on stdout),
DIR/compare.json (raw numbers) and DIR/compare.png (gnuplot).  All scratch
files stay in DIR (default /tmp/aitag-compare/<dataset name>).

Tools: aitag (built binary), scikit-learn (TF-IDF + LinearSVC), the liblinear
CLI on scikit-learn's TF-IDF matrix, and the fastText CLI.  Missing tools are
reported and skipped; nothing is ever installed.

Only the Python 3 standard library is used here; scikit-learn is imported in
child processes of this script ("_sklearn-train" / "_sklearn-predict").
"""

import argparse
import concurrent.futures
import datetime
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
INSTALL_HINT = "apt-get install fasttext liblinear-tools python3-sklearn gnuplot-nox time"
LIBLINEAR_MAX_MULTI_LABELS = 20
FASTTEXT_SEED = 1
SKLEARN_WORKERS = ("_sklearn-train", "_sklearn-predict")


class ToolError(Exception):
    """A tool failed; the message says where to look."""


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# data

def read_jsonl(path, limit=None):
    """Return [(id, text, labels)] from a JSON-lines corpus (first `limit` docs)."""
    docs = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if limit is not None and len(docs) >= limit:
                break
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError("%s:%d: bad JSON: %s" % (path, lineno, e))
            text = obj.get("text")
            labels = obj.get("labels", [])
            if not isinstance(text, str):
                raise ValueError("%s:%d: \"text\" is missing or not a string" % (path, lineno))
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise ValueError("%s:%d: \"labels\" is not a list of strings" % (path, lineno))
            doc_id = obj.get("id", str(lineno))
            docs.append((str(doc_id), text, labels))
    return docs


def write_first_lines(src, dst, n):
    """Copy the first n non-blank lines of src to dst."""
    kept = 0
    with open(src, encoding="utf-8") as fi, open(dst, "w", encoding="utf-8") as fo:
        for line in fi:
            if kept >= n:
                break
            if line.strip():
                fo.write(line if line.endswith("\n") else line + "\n")
                kept += 1


# --------------------------------------------------------------------------
# metrics

def quality(gold, pred, multi):
    """Return (accuracy or micro-F1, macro-F1) for parallel lists of label lists.

    Per-label F1 = 2TP / (2TP + FP + FN); macro = mean over labels seen in gold
    or predictions; micro pools every (doc, label) decision.  For single-label
    data only the first (best) predicted label of each doc counts.
    """
    tp, fp, fn = {}, {}, {}
    correct = 0
    for g, p in zip(gold, pred):
        gs = set(g)
        ps = set(p if multi else p[:1])
        if not multi and ps and ps <= gs:
            correct += 1
        for lab in gs | ps:
            tp.setdefault(lab, 0)
            fp.setdefault(lab, 0)
            fn.setdefault(lab, 0)
        for lab in gs & ps:
            tp[lab] += 1
        for lab in ps - gs:
            fp[lab] += 1
        for lab in gs - ps:
            fn[lab] += 1
    f1s = []
    for lab in tp:
        den = 2 * tp[lab] + fp[lab] + fn[lab]
        f1s.append(2 * tp[lab] / den if den else 0.0)
    macro = sum(f1s) / len(f1s) if f1s else 0.0
    if multi:
        TP, FP, FN = sum(tp.values()), sum(fp.values()), sum(fn.values())
        first = 2 * TP / (2 * TP + FP + FN) if TP + FP + FN else 0.0
    else:
        first = correct / len(gold) if gold else 0.0
    return first, macro


# --------------------------------------------------------------------------
# running commands

def _rss_mib(path):
    try:
        with open(path) as f:
            lines = [x.strip() for x in f if x.strip()]
        return int(lines[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None


def run_timed(cmd, logfile, stdout=None):
    """Run cmd; return (wall seconds, peak RSS MiB or None).

    stderr is appended to logfile, stdout goes to the file `stdout` (or is
    appended to the log).  Peak RSS comes from /usr/bin/time -f %M.
    """
    rss_file = None
    full = list(cmd)
    if TIME:
        fd, rss_file = tempfile.mkstemp(prefix="rss-", dir=os.path.dirname(os.path.abspath(logfile)))
        os.close(fd)
        full = [TIME, "-f", "%M", "-o", rss_file] + full
    with open(logfile, "ab") as err:
        err.write(("$ " + " ".join(cmd) + "\n").encode())
        err.flush()
        out = open(stdout, "wb") if stdout else err
        try:
            t0 = time.perf_counter()
            proc = subprocess.run(full, stdout=out, stderr=err)
            wall = time.perf_counter() - t0
        except OSError as e:
            raise ToolError("cannot run %s: %s" % (cmd[0], e))
        finally:
            if stdout:
                out.close()
    rss = None
    if rss_file:
        rss = _rss_mib(rss_file)
        try:
            os.unlink(rss_file)
        except OSError:
            pass
    if proc.returncode != 0:
        raise ToolError("%s exited with status %d (see %s)"
                        % (os.path.basename(cmd[0]), proc.returncode, logfile))
    return wall, rss


def run_many(cmds, logfiles, jobs):
    """Run independent commands, `jobs` at a time; return (wall s, max RSS MiB)."""
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        results = list(ex.map(lambda a: run_timed(a[0], a[1]), zip(cmds, logfiles)))
    wall = time.perf_counter() - t0
    rss = [r for _, r in results if r is not None]
    return wall, (max(rss) if rss else None)


def capture(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def deb_version(pkg):
    v = capture(["dpkg-query", "-W", "-f", "${Version}", pkg])
    return re.sub(r"[+-].*$", "", v) if v else ""


# --------------------------------------------------------------------------
# tools.  Each returns a dict with train_s, predict_s, train_rss, predict_rss,
# preds (list of label lists, in test order) and optional notes.

def run_aitag(ctx, threads):
    d = os.path.join(ctx["out"], "aitag")
    os.makedirs(d, exist_ok=True)
    model = os.path.join(d, "model-t%d.aitag" % threads)
    pred_file = os.path.join(d, "pred-t%d.jsonl" % threads)
    logf = os.path.join(d, "log-t%d.txt" % threads)
    open(logf, "w").close()
    binary = ctx["aitag"]
    train_s, train_rss = run_timed(
        [binary, "train", "-i", ctx["train"], "-o", model, "-q", "--threads", str(threads)], logf)
    cmd = [binary, "classify", "-m", model, "--scores", "none", "--threads", str(threads)]
    if ctx["multi"]:
        cmd += ["--min-labels", "1"]
    cmd.append(ctx["test"])
    pred_s, pred_rss = run_timed(cmd, logf, stdout=pred_file)
    rows = []
    with open(pred_file, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                rows.append((str(obj.get("id")), obj.get("labels") or []))
    return dict(train_s=train_s, predict_s=pred_s, train_rss=train_rss, predict_rss=pred_rss,
                preds=align_by_id(ctx, rows, "aitag"))


def align_by_id(ctx, rows, name):
    ids = ctx["test_ids"]
    if len(rows) == len(ids) and all(r[0] == i for r, i in zip(rows, ids)):
        return [r[1] for r in rows]
    by_id = dict(rows)
    missing = sum(1 for i in ids if i not in by_id)
    if missing:
        raise ToolError("%s gave no prediction for %d of %d test docs" % (name, missing, len(ids)))
    return [by_id[i] for i in ids]


def run_sklearn(ctx):
    d = os.path.join(ctx["out"], "sklearn")
    os.makedirs(d, exist_ok=True)
    logf = os.path.join(d, "log.txt")
    open(logf, "w").close()
    cfg = dict(train=ctx["train"], test=ctx["test"], multi=ctx["multi"], threads=ctx["threads"],
               model=os.path.join(d, "model.pickle"),
               train_result=os.path.join(d, "train-result.json"),
               predict_result=os.path.join(d, "predict-result.json"),
               dump_dir=ctx["liblinear_dir"] if ctx["want_liblinear"] else None)
    cfg_path = os.path.join(d, "config.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=1)
    script = os.path.abspath(__file__)
    run_timed([PYTHON, script, "_sklearn-train", cfg_path], logf)
    run_timed([PYTHON, script, "_sklearn-predict", cfg_path], logf)
    with open(cfg["train_result"]) as f:
        tr = json.load(f)
    with open(cfg["predict_result"]) as f:
        pr = json.load(f)
    notes = []
    if tr.get("convergence_warnings"):
        notes.append("LinearSVC did not converge for %d binary problem(s) (max_iter=1000)"
                     % tr["convergence_warnings"])
    return dict(train_s=tr["seconds"], predict_s=pr["seconds"], train_rss=tr["rss_mib"],
                predict_rss=pr["rss_mib"], preds=pr["preds"], notes=notes)


def _liblinear_scores(model_path, feature_lines):
    """Decision values of a binary liblinear model for +1, one per feature line."""
    with open(model_path) as f:
        header = {}
        for line in f:
            line = line.strip()
            if line == "w":
                break
            k, _, v = line.partition(" ")
            header[k] = v
        w = [float(x.split()[0]) for x in f if x.strip()]
    labels = header.get("label", "").split()
    bias = float(header.get("bias", "-1"))
    if len(labels) < 2:  # a one-class model: constant answer
        const = float("inf") if labels == ["1"] else float("-inf")
        return [const for _ in feature_lines]
    sign = 1.0 if labels[0] == "1" else -1.0
    n = len(w) - (1 if bias >= 0 else 0)
    out = []
    for line in feature_lines:
        s = 0.0
        for item in line.split()[1:]:
            j, _, v = item.partition(":")
            j = int(j)
            if j <= n:
                s += w[j - 1] * float(v)
        if bias >= 0:
            s += w[n] * bias
        out.append(sign * s)
    return out


def run_liblinear(ctx):
    d = ctx["liblinear_dir"]
    logf = os.path.join(d, "log.txt")
    open(logf, "w").close()
    with open(os.path.join(d, "labels.json")) as f:
        labels = json.load(f)  # class k (1-based in the files) -> label name
    train_svm = os.path.join(d, "train.svm")
    test_svm = os.path.join(d, "test.svm")
    n_test = len(ctx["test_ids"])
    if not ctx["multi"]:
        model = os.path.join(d, "model")
        out = os.path.join(d, "pred.txt")
        train_s, train_rss = run_timed(
            ["liblinear-train", "-q", "-s", "1", "-c", "1", train_svm, model], logf)
        pred_s, pred_rss = run_timed(["liblinear-predict", test_svm, model, out], logf)
        with open(out) as f:
            got = [line.strip() for line in f if line.strip()]
        if len(got) != n_test:
            raise ToolError("liblinear-predict wrote %d lines for %d docs" % (len(got), n_test))
        preds = [[labels[int(float(x)) - 1]] for x in got]
        return dict(train_s=train_s, predict_s=pred_s, train_rss=train_rss,
                    predict_rss=pred_rss, preds=preds)

    # multi-label: one binary model (+1 = has the label) per label
    with open(train_svm) as f:
        train_feats = [line.split(" ", 1)[1] if " " in line.strip() else "\n" for line in f]
    with open(os.path.join(d, "train-labels.json")) as f:
        train_sets = [set(x) for x in json.load(f)]
    files, models, outs = [], [], []
    for k in range(len(labels)):
        path = os.path.join(d, "train-%d.svm" % k)
        with open(path, "w") as fo:
            for feats, labs in zip(train_feats, train_sets):
                fo.write(("+1 " if k in labs else "-1 ") + feats)
        files.append(path)
        models.append(os.path.join(d, "model-%d" % k))
        outs.append(os.path.join(d, "pred-%d.txt" % k))
    del train_feats
    jobs = ctx["threads"]
    train_cmds = [["liblinear-train", "-q", "-s", "1", "-c", "1", f, m] for f, m in zip(files, models)]
    train_s, train_rss = run_many(train_cmds, [logf + ".train-%d" % k for k in range(len(labels))], jobs)
    t0 = time.perf_counter()
    pred_cmds = [["liblinear-predict", test_svm, m, o] for m, o in zip(models, outs)]
    _, pred_rss = run_many(pred_cmds, [logf + ".predict-%d" % k for k in range(len(labels))], jobs)
    preds = [[] for _ in range(n_test)]
    for k, o in enumerate(outs):
        with open(o) as f:
            got = [line.strip() for line in f if line.strip()]
        if len(got) != n_test:
            raise ToolError("liblinear-predict wrote %d lines for %d docs" % (len(got), n_test))
        for i, x in enumerate(got):
            if float(x) > 0:
                preds[i].append(labels[k])
    empty = [i for i, p in enumerate(preds) if not p]
    if empty:  # top-1 fallback: decision values from the model files
        with open(test_svm) as f:
            test_lines = f.readlines()
        sub = [test_lines[i] for i in empty]
        scores = [_liblinear_scores(m, sub) for m in models]
        for j, i in enumerate(empty):
            best = max(range(len(labels)), key=lambda k: scores[k][j])
            preds[i] = [labels[best]]
    pred_s = time.perf_counter() - t0
    notes = ["%d binary models run %d at a time; the top-1 fallback for %d docs with no "
             "positive label reads the weights in Python (included in predict s)"
             % (len(labels), jobs, len(empty))]
    return dict(train_s=train_s, predict_s=pred_s, train_rss=train_rss, predict_rss=pred_rss,
                preds=preds, notes=notes)


def ft_text(text):
    return " ".join(text.lower().split()) or "_empty_"


def run_fasttext(ctx):
    d = os.path.join(ctx["out"], "fasttext")
    os.makedirs(d, exist_ok=True)
    logf = os.path.join(d, "log.txt")
    open(logf, "w").close()
    names = {}  # fastText label token -> original label

    def token(label):
        t = "__label__" + (re.sub(r"\s+", "_", label) or "_")
        names.setdefault(t, label)
        return t

    train_txt = os.path.join(d, "train.txt")
    test_txt = os.path.join(d, "test.txt")
    order = list(range(len(ctx["train_docs"])))
    random.Random(FASTTEXT_SEED).shuffle(order)
    with open(train_txt, "w", encoding="utf-8") as f:
        for i in order:
            _, text, labs = ctx["train_docs"][i]
            if labs:
                f.write(" ".join(token(x) for x in labs) + " " + ft_text(text) + "\n")
    with open(test_txt, "w", encoding="utf-8") as f:
        for _, text, _ in ctx["test_docs"]:
            f.write(ft_text(text) + "\n")
    model = os.path.join(d, "model")
    cmd = ["fasttext", "supervised", "-input", train_txt, "-output", model, "-wordNgrams", "2",
           "-epoch", "25", "-lr", "0.5", "-dim", "50", "-thread", str(ctx["threads"]),
           "-verbose", "0"]
    if ctx["multi"]:
        cmd += ["-loss", "ova"]
    train_s, train_rss = run_timed(cmd, logf)
    n_test = len(ctx["test_docs"])

    def parse(path, n):
        rows = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                rows.append([names.get(t, t[len("__label__"):]) for t in line.split()
                             if t.startswith("__label__")])
        if len(rows) != n:
            raise ToolError("fasttext wrote %d lines for %d docs (see %s)" % (len(rows), n, path))
        return rows

    out = os.path.join(d, "pred.txt")
    if not ctx["multi"]:
        pred_s, pred_rss = run_timed(["fasttext", "predict", model + ".bin", test_txt, "1"],
                                     logf, stdout=out)
        return dict(train_s=train_s, predict_s=pred_s, train_rss=train_rss,
                    predict_rss=pred_rss, preds=parse(out, n_test))
    pred_s, pred_rss = run_timed(["fasttext", "predict-prob", model + ".bin", test_txt, "-1", "0.5"],
                                 logf, stdout=out)
    preds = parse(out, n_test)
    empty = [i for i, p in enumerate(preds) if not p]
    notes = []
    if empty:  # top-1 for docs where no label reached probability 0.5
        sub_txt = os.path.join(d, "test-fallback.txt")
        with open(sub_txt, "w", encoding="utf-8") as f:
            for i in empty:
                f.write(ft_text(ctx["test_docs"][i][1]) + "\n")
        sub_out = os.path.join(d, "pred-fallback.txt")
        s2, r2 = run_timed(["fasttext", "predict", model + ".bin", sub_txt, "1"], logf, stdout=sub_out)
        pred_s += s2
        if r2 is not None and (pred_rss is None or r2 > pred_rss):
            pred_rss = r2
        for i, p in zip(empty, parse(sub_out, len(empty))):
            preds[i] = p
        notes.append("top-1 fallback run for %d docs with no label at p >= 0.5 (included in predict s)"
                     % len(empty))
    return dict(train_s=train_s, predict_s=pred_s, train_rss=train_rss, predict_rss=pred_rss,
                preds=preds, notes=notes)


# --------------------------------------------------------------------------
# scikit-learn workers (child processes, so each has its own peak RSS)

def _rss_self_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def sklearn_train_worker(cfg_path):
    import pickle
    import warnings
    with open(cfg_path) as f:
        cfg = json.load(f)
    docs = read_jsonl(cfg["train"])
    texts = [t for _, t, _ in docs]
    labels = [labs for _, _, labs in docs]
    from joblib import parallel_backend
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    from sklearn.svm import LinearSVC

    multi = cfg["multi"]
    threads = max(1, int(cfg["threads"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
        X = vec.fit_transform(texts)
        if multi:
            mlb = MultiLabelBinarizer()
            Y = mlb.fit_transform(labels)
            classes = list(mlb.classes_)
        else:
            Y = [labs[0] if labs else "" for labs in labels]
            classes = None
        # LinearSVC per label = liblinear's one-vs-rest; threads share the
        # process (liblinear releases the GIL), so RUSAGE_SELF sees them all.
        clf = OneVsRestClassifier(LinearSVC(C=1.0), n_jobs=threads)
        with parallel_backend("threading", n_jobs=threads):
            clf.fit(X, Y)
        seconds = time.perf_counter() - t0
    rss = _rss_self_mib()
    nconv = sum(1 for w in caught if issubclass(w.category, ConvergenceWarning))
    if classes is None:
        classes = [str(c) for c in clf.classes_]
    if hasattr(vec, "stop_words_"):
        vec.stop_words_ = None  # only for introspection; can be huge
    with open(cfg["model"], "wb") as f:
        pickle.dump({"vec": vec, "clf": clf, "classes": classes, "multi": multi}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)

    if cfg.get("dump_dir"):  # TF-IDF matrices for the liblinear CLI (untimed)
        import numpy as np
        from sklearn.datasets import dump_svmlight_file
        dd = cfg["dump_dir"]
        index = {c: k for k, c in enumerate(classes)}
        test_docs = read_jsonl(cfg["test"])
        Xt = vec.transform([t for _, t, _ in test_docs])
        if multi:
            y = np.zeros(X.shape[0])
            with open(os.path.join(dd, "train-labels.json"), "w") as f:
                json.dump([[index[x] for x in labs] for labs in labels], f)
            yt = np.zeros(Xt.shape[0])
        else:
            y = np.array([index[v] + 1 for v in Y], dtype=float)
            yt = np.array([index.get(labs[0], -1) + 1 if labs else 0 for _, _, labs in test_docs],
                          dtype=float)
        dump_svmlight_file(X, y, os.path.join(dd, "train.svm"), zero_based=False)
        dump_svmlight_file(Xt, yt, os.path.join(dd, "test.svm"), zero_based=False)
        with open(os.path.join(dd, "labels.json"), "w") as f:
            json.dump(classes, f)

    with open(cfg["train_result"], "w") as f:
        json.dump({"seconds": seconds, "rss_mib": rss, "convergence_warnings": nconv,
                   "features": int(X.shape[1])}, f)


def sklearn_predict_worker(cfg_path):
    import pickle
    with open(cfg_path) as f:
        cfg = json.load(f)
    docs = read_jsonl(cfg["test"])
    texts = [t for _, t, _ in docs]
    import numpy as np
    from joblib import parallel_backend
    with open(cfg["model"], "rb") as f:
        m = pickle.load(f)
    vec, clf, classes = m["vec"], m["clf"], m["classes"]
    threads = max(1, int(cfg["threads"]))
    with parallel_backend("threading", n_jobs=threads):
        t0 = time.perf_counter()
        Xt = vec.transform(texts)
        dec = clf.decision_function(Xt)
        seconds = time.perf_counter() - t0
    rss = _rss_self_mib()
    dec = np.asarray(dec)
    preds = []
    if dec.ndim == 1:  # two classes: one margin, positive = classes[1]
        for v in dec:
            preds.append([classes[1] if v > 0 else classes[0]])
    elif m["multi"]:
        for row in dec:
            pos = [classes[k] for k in np.flatnonzero(row > 0)]
            preds.append(pos or [classes[int(np.argmax(row))]])
    else:
        for row in dec:
            preds.append([classes[int(np.argmax(row))]])
    with open(cfg["predict_result"], "w") as f:
        json.dump({"seconds": seconds, "rss_mib": rss, "preds": preds}, f)


# --------------------------------------------------------------------------
# report

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine() or "unknown CPU"


def git_rev():
    rev = capture(["git", "rev-parse", "--short", "HEAD"], cwd=REPO) or "unknown"
    if capture(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO):
        rev += " (+ uncommitted changes)"
    return rev


def fmt_s(x):
    if x is None:
        return "n/a"
    return "%.3f" % x if x < 1 else "%.2f" % x if x < 100 else "%.0f" % x


def fmt_mib(x):
    return "n/a" if x is None else "%.0f" % x if x >= 100 else "%.1f" % x


def fmt_rate(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def md_escape(s):
    return s.replace("|", "\\|")


def write_report(ctx, results, notes, started):
    multi = ctx["multi"]
    qname = "micro-F1" if multi else "accuracy"
    header = "%s · aitag git %s · %s · %d cores" % (
        started.strftime("%Y-%m-%d %H:%M %Z").strip(), git_rev(), cpu_model(), os.cpu_count() or 0)
    lines = [header, ""]
    n_labels = len({x for _, _, labs in ctx["train_docs"] for x in labs})
    lines.append("Dataset `%s`: %s train / %s test docs, %s, %d labels; `--threads %d`%s."
                 % (ctx["name"], "{:,}".format(len(ctx["train_docs"])),
                    "{:,}".format(len(ctx["test_docs"])),
                    "multi-label" if multi else "single-label", n_labels, ctx["threads"],
                    "; first %d docs of each split only (`--limit`)" % ctx["limit"]
                    if ctx["limit"] else ""))
    lines.append("")
    lines.append("| tool | train s | predict s | test docs/s | train RSS MiB | predict RSS MiB "
                 "| %s | macro-F1 |" % qname)
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        lines.append("| %s | %s | %s | %s | %s | %s | %.4f | %.4f |" % (
            md_escape(r["tool"]), fmt_s(r["train_s"]), fmt_s(r["predict_s"]), fmt_rate(r["docs_s"]),
            fmt_mib(r["train_rss"]), fmt_mib(r["predict_rss"]), r["quality"], r["macro_f1"]))
    if not results:
        lines.append("| (no tool ran) | | | | | | | |")
    lines.append("")
    lines.append("Notes:")
    lines.append("")
    lines.append("- Times are wall-clock. CLI tools: whole process (includes loading the model "
                 "and reading the test file); peak RSS from `/usr/bin/time -f %M`. "
                 "scikit-learn: in-process `time.perf_counter` around fit (vectorizer + SVM) and "
                 "predict (transform + decision), texts already in memory; peak RSS of the "
                 "worker process (`getrusage(RUSAGE_SELF)`, includes the Python/numpy/scikit-learn "
                 "runtime and, for predict, the unpickled model).")
    if multi:
        lines.append("- Multi-label decision: aitag `--min-labels 1` (its tuned per-label thresholds, "
                     "else top-1); scikit-learn / liblinear: margin > 0, else top-1; fastText "
                     "(`-loss ova`): p >= 0.5, else top-1.")
    ran = {r["short"] for r in results}
    if "scikit-learn" in ran:
        lines.append("- scikit-learn: `OneVsRestClassifier(LinearSVC(C=1))` (the same one-vs-rest "
                     "problems LinearSVC solves for multi-class data) fitted with %d thread(s) "
                     "(joblib threading backend); `TfidfVectorizer(sublinear_tf=True, "
                     "ngram_range=(1, 2), min_df=2)`." % ctx["threads"])
    if "liblinear" in ran:
        lines.append("- liblinear times exclude building the TF-IDF matrix (scikit-learn's, same "
                     "settings, dumped in svmlight format); no bias term (`-B` unset), unlike "
                     "LinearSVC's intercept.")
    if ctx["repeat"] > 1:
        lines.append("- Each tool ran %d times: fastest train s and predict s, largest peak RSS."
                     % ctx["repeat"])
    la0, la1 = ctx["load_start"], ctx["load_end"]
    if la0 is not None:
        lines.append("- Load average (1 min) at start %.2f, at end %.2f on %d cores%s." % (
            la0, la1, os.cpu_count() or 0,
            ": other processes were competing for the CPUs, so times are noisy"
            if max(la0, la1) > 0.5 * (os.cpu_count() or 1) + 0.5 else ""))
    if "fastText" in ran:
        lines.append("- fastText input: lowercased text with whitespace collapsed; training file "
                     "shuffled with seed %d; default 2M hash buckets for word bigrams, hence "
                     "the large RSS." % FASTTEXT_SEED)
    for n in notes:
        lines.append("- " + n)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(ctx["out"], "compare.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return text


def write_plot(ctx, results, notes):
    gp = shutil.which("gnuplot")
    png = os.path.join(ctx["out"], "compare.png")
    if not gp:
        notes.append("gnuplot not found: no plot (install: `apt-get install gnuplot-nox`)")
        return None
    if not results:
        return None
    dat = os.path.join(ctx["out"], "compare.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write("tool\tdocs_per_s\tquality\tmacro_f1\n")
        for r in results:
            f.write("%s\t%.6g\t%.6f\t%.6f\n" % (r["short"], r["docs_s"] or 0, r["quality"], r["macro_f1"]))
    script = os.path.join(REPO, "bench", "compare.gnuplot")
    title = "%s: %s train / %s test docs, %s, --threads %d" % (
        ctx["name"], len(ctx["train_docs"]), len(ctx["test_docs"]),
        "multi-label" if ctx["multi"] else "single-label", ctx["threads"])

    def q(s):
        return "'" + s.replace("'", "''") + "'"

    expr = "datafile=%s; outfile=%s; qname=%s; heading=%s" % (
        q(dat), q(png), q("micro-F1" if ctx["multi"] else "accuracy"), q(title))
    proc = subprocess.run([gp, "-e", expr, script], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        notes.append("gnuplot failed: " + proc.stdout.strip().splitlines()[-1] if proc.stdout.strip()
                     else "gnuplot failed")
        return None
    return png


# --------------------------------------------------------------------------

def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def best_of(old, new):
    """Merge two runs of a tool: fastest times, largest peak RSS, latest predictions."""
    if old is None:
        return new
    for k in ("train_s", "predict_s"):
        new[k] = min(old[k], new[k])
    for k in ("train_rss", "predict_rss"):
        vals = [v for v in (old[k], new[k]) if v is not None]
        new[k] = max(vals) if vals else None
    return new


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="compare.sh",
        description="Train and evaluate aitag and every installed peer (scikit-learn, liblinear, "
                    "fastText) on DATASET_DIR/{train,test}.jsonl; write a Markdown table and a "
                    "PNG plot.")
    p.add_argument("dataset", metavar="DATASET_DIR")
    p.add_argument("--out", metavar="DIR",
                   help="results and scratch files (default /tmp/aitag-compare/<dataset name>)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="threads for training and prediction (default: number of cores)")
    p.add_argument("--aitag", metavar="PATH", help="aitag binary (default: build/aitag in the repo)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="use only the first N train and first N test docs (quick runs)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run each tool N times, keep the fastest times (default 1)")
    p.add_argument("--only", metavar="LIST",
                   help="comma-separated subset of: aitag,sklearn,liblinear,fasttext")
    a = p.parse_args(argv)
    if a.threads < 1:
        p.error("--threads must be >= 1")
    if a.repeat < 1:
        p.error("--repeat must be >= 1")
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be >= 1")
    known = {"aitag", "sklearn", "liblinear", "fasttext"}
    if a.only:
        a.only = {x.strip() for x in a.only.split(",") if x.strip()}
        bad = a.only - known
        if bad:
            p.error("--only: unknown tool(s): %s" % ", ".join(sorted(bad)))
    else:
        a.only = known
    return a


def main(argv):
    if argv and argv[0] in SKLEARN_WORKERS:
        (sklearn_train_worker if argv[0] == "_sklearn-train" else sklearn_predict_worker)(argv[1])
        return 0

    a = parse_args(argv)
    started = datetime.datetime.now().astimezone()
    ds = os.path.abspath(a.dataset)
    if not os.path.isdir(ds):
        print("compare: dataset folder not found: %s" % a.dataset, file=sys.stderr)
        return 2
    for fn in ("train.jsonl", "test.jsonl"):
        if not os.path.isfile(os.path.join(ds, fn)):
            print("compare: %s has no %s" % (a.dataset, fn), file=sys.stderr)
            return 2
    name = os.path.basename(os.path.normpath(ds))
    out = os.path.abspath(a.out or os.path.join("/tmp/aitag-compare", name))
    os.makedirs(out, exist_ok=True)

    if a.aitag:
        aitag = os.path.abspath(a.aitag)
        if not (os.path.isfile(aitag) and os.access(aitag, os.X_OK)):
            print("compare: --aitag: not an executable file: %s" % a.aitag, file=sys.stderr)
            return 2
    else:
        aitag = os.path.join(REPO, "build", "aitag")

    train, test = os.path.join(ds, "train.jsonl"), os.path.join(ds, "test.jsonl")
    try:
        train_docs = read_jsonl(train, a.limit)
        test_docs = read_jsonl(test, a.limit)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        print("compare: %s" % e, file=sys.stderr)
        return 1
    if not train_docs or not test_docs:
        print("compare: empty train or test set", file=sys.stderr)
        return 1
    if a.limit:
        data = os.path.join(out, "data")
        os.makedirs(data, exist_ok=True)
        write_first_lines(train, os.path.join(data, "train.jsonl"), len(train_docs))
        write_first_lines(test, os.path.join(data, "test.jsonl"), len(test_docs))
        train, test = os.path.join(data, "train.jsonl"), os.path.join(data, "test.jsonl")

    multi = any(len(labs) != 1 for _, _, labs in train_docs)
    labels = sorted({x for _, _, labs in train_docs for x in labs})
    ctx = dict(name=name, out=out, train=train, test=test, train_docs=train_docs,
               test_docs=test_docs, test_ids=[i for i, _, _ in test_docs], multi=multi,
               threads=a.threads, aitag=aitag, limit=a.limit, repeat=a.repeat,
               load_start=loadavg(), load_end=None,
               liblinear_dir=os.path.join(out, "liblinear"))
    gold = [labs for _, _, labs in test_docs]
    log("%s: %d train / %d test docs, %s, %d labels; scratch in %s"
        % (name, len(train_docs), len(test_docs), "multi-label" if multi else "single-label",
           len(labels), out))

    # which tools can run
    notes, missing = [], []
    have_aitag = os.path.isfile(aitag) and os.access(aitag, os.X_OK)
    have_sklearn = importlib.util.find_spec("sklearn") is not None if PYTHON == sys.executable \
        else subprocess.run([PYTHON, "-c", "import sklearn"], stderr=subprocess.DEVNULL).returncode == 0
    have_fasttext = shutil.which("fasttext") is not None
    have_liblinear = shutil.which("liblinear-train") and shutil.which("liblinear-predict")
    if "aitag" in a.only and not have_aitag:
        missing.append("aitag (no executable at %s; build it: `cmake --build build`)" % aitag)
    if "sklearn" in a.only or "liblinear" in a.only:
        if not have_sklearn:
            missing.append("scikit-learn (python3-sklearn)" +
                           ("; liblinear needs its TF-IDF matrix, so it is skipped too"
                            if "liblinear" in a.only else ""))
    if "fasttext" in a.only and not have_fasttext:
        missing.append("fastText (fasttext)")
    if "liblinear" in a.only and not have_liblinear:
        missing.append("liblinear CLI (liblinear-tools)")
    if TIME is None:
        missing.append("/usr/bin/time (time): peak RSS of CLI tools not measured")
    if missing:
        log("missing, skipped: " + "; ".join(missing))
        log("install with: " + INSTALL_HINT)
        notes.append("Missing (skipped): %s. Install with `%s`." % ("; ".join(missing), INSTALL_HINT))

    want_liblinear = bool("liblinear" in a.only and have_liblinear and have_sklearn)
    if want_liblinear and multi and len(labels) > LIBLINEAR_MAX_MULTI_LABELS:
        want_liblinear = False
        msg = ("liblinear skipped: multi-label data with %d labels (> %d) would need one binary "
               "model per label" % (len(labels), LIBLINEAR_MAX_MULTI_LABELS))
        log(msg)
        notes.append(msg + ".")
    ctx["want_liblinear"] = want_liblinear
    if want_liblinear:
        os.makedirs(ctx["liblinear_dir"], exist_ok=True)

    plan = []
    if "aitag" in a.only and have_aitag:
        plan.append(("aitag (%d threads)" % a.threads if a.threads > 1 else "aitag (1 thread)",
                     "aitag %dt" % a.threads, lambda: run_aitag(ctx, a.threads)))
        if a.threads > 1:
            plan.append(("aitag (1 thread)", "aitag 1t", lambda: run_aitag(ctx, 1)))
    sk_ok = [False]
    if have_sklearn and ("sklearn" in a.only or want_liblinear):
        def sk():
            r = run_sklearn(ctx)
            sk_ok[0] = True
            return r
        v = deb_version("python3-sklearn")
        plan.append(("scikit-learn%s TF-IDF + LinearSVC" % (" " + v if v else ""), "scikit-learn", sk))
    if want_liblinear:
        v = deb_version("liblinear-tools")
        def ll():
            if not sk_ok[0]:
                raise ToolError("no TF-IDF matrix (the scikit-learn step failed)")
            return run_liblinear(ctx)
        plan.append(("liblinear%s -s 1 (sklearn TF-IDF)" % (" " + v if v else ""), "liblinear", ll))
    if "fasttext" in a.only and have_fasttext:
        v = deb_version("fasttext")
        plan.append(("fastText%s" % (" " + v if v else ""), "fastText", lambda: run_fasttext(ctx)))

    results = []
    for tool, short, fn in plan:
        try:
            r = None
            for k in range(a.repeat):
                log("running %s%s ..." % (tool, " (%d/%d)" % (k + 1, a.repeat) if a.repeat > 1 else ""))
                r = best_of(r, fn())
        except (ToolError, OSError, ValueError, KeyError) as e:
            log("%s failed: %s" % (tool, e))
            notes.append("%s failed: %s" % (tool, e))
            continue
        if tool.startswith("scikit-learn") and "sklearn" not in a.only:
            continue  # ran only to feed liblinear
        if len(r["preds"]) != len(gold):
            notes.append("%s: %d predictions for %d docs; ignored" % (tool, len(r["preds"]), len(gold)))
            continue
        r["quality"], r["macro_f1"] = quality(gold, r["preds"], multi)
        r["docs_s"] = len(gold) / r["predict_s"] if r["predict_s"] > 0 else None
        r["tool"], r["short"] = tool, short
        for n in r.get("notes", []):
            notes.append("%s: %s" % (tool, n))
        log("%s: train %.2f s, predict %.2f s, quality %.4f / macro-F1 %.4f"
            % (tool, r["train_s"], r["predict_s"], r["quality"], r["macro_f1"]))
        results.append(r)

    ctx["load_end"] = loadavg()
    png = write_plot(ctx, results, notes)
    text = write_report(ctx, results, notes, started)
    with open(os.path.join(out, "compare.json"), "w") as f:
        json.dump({"dataset": name, "multi_label": multi, "threads": a.threads, "limit": a.limit,
                   "repeat": a.repeat, "load_start": ctx["load_start"], "load_end": ctx["load_end"],
                   "train_docs": len(train_docs), "test_docs": len(test_docs),
                   "results": [{k: v for k, v in r.items() if k not in ("preds", "notes")}
                               for r in results], "notes": notes}, f, indent=1)
    sys.stdout.write(text)
    log("wrote %s%s" % (os.path.join(out, "compare.md"), " and " + png if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

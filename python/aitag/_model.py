"""Models: load, save, classify, train (see the package docstring)."""
import json
import os

from aitag._ffi import ffi, lib, library_path


class AitagError(Exception):
    """A libaitag failure: .status is the aitag_status number, .code its name
    (e.g. "FORMAT"), .message the library's message."""

    def __init__(self, status, message):
        self.status = int(status)
        self.code = _STATUS_NAMES.get(self.status, str(self.status))
        self.message = message
        super().__init__("%s: %s" % (self.code, message))


_STATUS_NAMES = {0: "OK", 1: "NOMEM", 2: "INVALID", 3: "IO", 4: "PARSE", 5: "FORMAT", 6: "VERSION",
                 7: "CORRUPT", 8: "LIMIT", 9: "SOLVER", 10: "LABEL", 11: "EMPTY", 12: "CANCELLED",
                 13: "END"}


def _check(rc, err):
    if rc != lib.AITAG_OK:
        msg = ffi.string(err.msg).decode("utf-8", "replace") or ffi.string(lib.aitag_status_str(rc)).decode()
        raise AitagError(rc, msg)


def _text_bytes(text):
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    raise TypeError("expected str or bytes, got %s" % type(text).__name__)


def version():
    """The library's version string."""
    return ffi.string(lib.aitag_version()).decode()


def default_model_path():
    """$AITAG_MODEL, else the installed default model, else the one the build
    trained beside the library (build/models/default.aitag)."""
    buf = ffi.new("char[]", 4096)
    err = ffi.new("aitag_error *")
    if lib.aitag_default_model_path(buf, 4096, err) == lib.AITAG_OK:
        return ffi.string(buf).decode()
    beside = os.path.join(os.path.dirname(os.path.abspath(library_path)), "models", "default.aitag")
    if os.path.exists(beside):
        return beside
    try:
        from aitag import _installed
        p = os.path.join(_installed.DATADIR, "default.aitag")
        if os.path.exists(p):
            return p
    except ImportError:
        pass
    raise AitagError(lib.AITAG_IO, ffi.string(err.msg).decode("utf-8", "replace"))


def load(path=None):
    """Loads a model file (the default model when path is None)."""
    if path is None:
        path = default_model_path()
    out = ffi.new("aitag_model **")
    err = ffi.new("aitag_error *")
    _check(lib.aitag_model_load(os.fsencode(path), out, err), err)
    return Model(out[0])


def load_bytes(data, name="<bytes>"):
    """A model from its file image (Model.to_bytes, or a file's contents)."""
    data = bytes(data)
    out = ffi.new("aitag_model **")
    err = ffi.new("aitag_error *")
    _check(lib.aitag_model_load_bytes(data, len(data), name.encode(), out, err), err)
    return Model(out[0])


_FORMATS = {"json": lib.AITAG_OUTPUT_JSON, "tsv": lib.AITAG_OUTPUT_TSV, "text": lib.AITAG_OUTPUT_TEXT}
_SCORES = {"all": lib.AITAG_SCORES_ALL, "tags": lib.AITAG_SCORES_TAGS, "none": lib.AITAG_SCORES_NONE}


def stream_params(threads=1, scores="all", margins=False, explain=0, top_k=0, min_labels=0,
                  evidence=False, batch=1024, format="json"):
    """aitag_stream_params with the options of `aitag classify`."""
    p = ffi.new("aitag_stream_params *", lib.aitag_stream_params_default())
    if scores not in _SCORES:
        raise ValueError("scores must be 'all', 'tags' or 'none', not %r" % (scores,))
    if format not in _FORMATS:
        raise ValueError("format must be 'json', 'tsv' or 'text', not %r" % (format,))
    p.format = _FORMATS[format]
    p.threads = int(threads)
    p.batch = int(batch)
    p.scores = _SCORES[scores]
    p.margins = 1 if margins else 0
    p.explain = int(explain)
    p.classify.decide.top_k = int(top_k)
    p.classify.decide.min_labels = int(min_labels)
    p.classify.evidence = 1 if evidence else 0
    why = lib.aitag_stream_params_check(p)
    if why != ffi.NULL:
        raise ValueError(ffi.string(why).decode())
    return p


def _take_output(out, out_len):
    try:
        return ffi.unpack(out[0], out_len[0])
    finally:
        lib.aitag_free(out[0])


def articles_jsonl(items):
    """Articles (dicts, or texts that become {"text": ...}) as JSON lines."""
    lines = []
    for it in items:
        if isinstance(it, (str, bytes)):
            it = {"text": it.decode("utf-8", "replace") if isinstance(it, bytes) else it}
        lines.append(json.dumps(it, ensure_ascii=False) + "\n")
    return "".join(lines).encode("utf-8")


class _Owner:
    """Owns the C model and the classifiers made for it; frees the
    classifiers before the model."""

    def __init__(self, ptr):
        self.ptr = ptr
        self.free = []          # idle classifiers (list.pop/append are atomic)
        self.all = []

    def classifier(self):
        try:
            return self.free.pop()
        except IndexError:
            out = ffi.new("aitag_classifier **")
            err = ffi.new("aitag_error *")
            _check(lib.aitag_classifier_create(self.ptr, out, err), err)
            self.all.append(out[0])
            return out[0]

    def __del__(self):
        for c in self.all:
            lib.aitag_classifier_free(c)
        self.all = self.free = []
        if self.ptr is not None:
            lib.aitag_model_free(self.ptr)
            self.ptr = None


class Model:
    """A trained model (immutable; safe to share between threads)."""

    def __init__(self, ptr):
        self._o = _Owner(ptr)
        ptr = self._o.ptr
        self.labels = [ffi.string(lib.aitag_model_label(ptr, k)).decode("utf-8")
                       for k in range(lib.aitag_model_num_labels(ptr))]
        self.cv_report = None

    @property
    def info(self):
        """The model header (labels, thresholds, settings) as a dict."""
        return json.loads(ffi.string(lib.aitag_model_header(self._o.ptr)).decode("utf-8"))

    @property
    def num_features(self):
        return lib.aitag_model_num_features(self._o.ptr)

    @property
    def single_label(self):
        return bool(lib.aitag_model_is_single_label(self._o.ptr))

    def to_bytes(self):
        """The model's file image, byte for byte what save() writes."""
        n = ffi.new("size_t *")
        p = lib.aitag_model_bytes(self._o.ptr, n)
        return ffi.unpack(ffi.cast("const char *", p), n[0])

    def save(self, path):
        """Writes the model file atomically."""
        err = ffi.new("aitag_error *")
        _check(lib.aitag_model_save(self._o.ptr, os.fsencode(path), err), err)

    def __reduce__(self):
        return (load_bytes, (self.to_bytes(),))

    def __repr__(self):
        return "<aitag.Model: %d labels, %d features>" % (len(self.labels), self.num_features)

    # ---- classification --------------------------------------------------

    def classify(self, text, top_k=0, min_labels=0, margins=False, evidence=False):
        """One text -> {"labels": [...], "scores": {label: probability}} (all
        labels, full precision), with "margins" and "evidence" when asked.
        Thread-safe: each calling thread gets a classifier of its own."""
        b = _text_bytes(text)
        o = ffi.new("aitag_classify_opts *", lib.aitag_classify_opts_default())
        o.decide.top_k = int(top_k)
        o.decide.min_labels = int(min_labels)
        o.evidence = 1 if evidence else 0
        res = ffi.new("aitag_result *")
        err = ffi.new("aitag_error *")
        owner = self._o
        c = owner.classifier()
        try:
            _check(lib.aitag_classify(c, b, len(b), o, res, err), err)
            labels = self.labels
            tags = [res.tags[j] for j in range(res.n_tags)]
            out = {"labels": [labels[k] for k in tags],
                   "scores": {labels[k]: res.probs[k] for k in range(res.n_labels)}}
            if margins:
                out["margins"] = {labels[k]: res.margins[k] for k in range(res.n_labels)}
            if evidence and res.evidence != ffi.NULL:
                out["evidence"] = {labels[k]: {"start": res.evidence[j].start, "end": res.evidence[j].end,
                                               "prob": res.evidence[j].prob}
                                   for j, k in enumerate(tags)}
        finally:
            owner.free.append(c)
        return out

    def classify_many(self, texts, threads=1, evidence=False, scores="all", margins=False, explain=0,
                      top_k=0, min_labels=0, raw=False):
        """Many texts -> one dict per text, in order, exactly the JSON of
        `aitag classify` (probabilities to 4 decimals) without its "id".
        Runs the library's worker threads with the GIL released. An item that
        is not str/bytes gets {"error": "..."} in its place. raw=True returns
        the JSON lines (str, ids "0".."n-1" counting the valid items)."""
        p = stream_params(threads=threads, scores=scores, margins=margins, explain=explain, top_k=top_k,
                          min_labels=min_labels, evidence=evidence)
        texts = list(texts)
        good, bufs, errors = [], [], {}
        for i, t in enumerate(texts):
            try:
                bufs.append(_text_bytes(t))
                good.append(i)
            except (TypeError, UnicodeError) as e:
                errors[i] = "item %d: %s" % (i, e)
        n = len(bufs)
        cbufs = [ffi.from_buffer(b) for b in bufs]
        ptrs = ffi.new("const char *[]", cbufs) if n else ffi.NULL
        lens = ffi.new("size_t[]", [len(b) for b in bufs]) if n else ffi.NULL
        out = ffi.new("char **")
        out_len = ffi.new("size_t *")
        err = ffi.new("aitag_error *")
        _check(lib.aitag_classify_texts(self._o.ptr, p, ptrs, lens, n, out, out_len, ffi.NULL, err), err)
        text = _take_output(out, out_len).decode("utf-8")
        if raw:
            return text
        lines = text.splitlines()
        results = [None] * len(texts)
        for i, line in zip(good, lines):
            d = json.loads(line)
            d.pop("id", None)
            results[i] = d
        for i, msg in errors.items():
            results[i] = {"error": msg}
        return results

    def _stream(self, p, add):
        """Runs an aitag_stream: add(stream, err) queues the input; returns the
        output bytes and the stream's stats (docs, bad, in_bytes, out_bytes)."""
        chunks = []

        @ffi.callback("int(void *, const char *, size_t)")
        def write(ud, ptr, n):
            chunks.append(ffi.unpack(ptr, n))
            return 0

        sink = ffi.new("aitag_sink *")
        sink.write = write
        st = ffi.new("aitag_stream **")
        err = ffi.new("aitag_error *")
        _check(lib.aitag_stream_create(self._o.ptr, p, sink[0], st, err), err)
        rc = add(st[0], err)
        ferr = ffi.new("aitag_error *")
        stats = ffi.new("aitag_stream_stats *")
        frc = lib.aitag_stream_finish(st[0], stats, ferr)
        _check(rc, err)
        _check(frc, ferr)
        return b"".join(chunks), {"docs": stats.docs, "bad": stats.bad, "in_bytes": stats.in_bytes,
                                  "out_bytes": stats.out_bytes}

    def classify_jsonl(self, data, name="<memory>", first_line=1, threads=1, stats=False, **opts):
        """JSON lines (bytes) -> the output lines of `aitag classify` (bytes),
        byte for byte; first_line numbers the lines of a piece of a larger
        input (ids of articles without one, error lines). stats=True returns
        (output, stats)."""
        p = stream_params(threads=threads, **opts)
        data = bytes(data)
        bname = os.fsencode(name)
        out = self._stream(p, lambda s, err: lib.aitag_stream_add_jsonl_at(s, bname, int(first_line), data,
                                                                          len(data), err))
        return out if stats else out[0]

    def classify_file(self, path, threads=1, stats=False, **opts):
        """An input file as `aitag classify FILE` reads it (JSON lines for
        .jsonl/.ndjson, else one article) -> its output lines (bytes)."""
        p = stream_params(threads=threads, **opts)
        bpath = os.fsencode(path)
        out = self._stream(p, lambda s, err: lib.aitag_stream_add_file(s, bpath, ffi.NULL, err))
        return out if stats else out[0]

    def classify_records(self, records, threads=1, name="<memory>", first_line=1, **opts):
        """Articles as dicts ({"id", "title", "text"}) or plain texts -> the
        dicts `aitag classify` prints for them written as JSON lines (ids
        default to the 1-based position; a bad record gets an "error")."""
        out = self.classify_jsonl(articles_jsonl(records), name=name, first_line=first_line, threads=threads,
                                  **opts)
        return [json.loads(line) for line in out.splitlines()]


# ---- training ---------------------------------------------------------------

_SOLVERS = {"dcd": lib.AITAG_SOLVER_DCD, "liblinear": lib.AITAG_SOLVER_LIBLINEAR,
            "libsvm": lib.AITAG_SOLVER_LIBSVM}


def tokenizer_params(word_ngrams=None, char_ngrams=None, strip_accents=False, max_token_bytes=None):
    kp = ffi.new("aitag_tokenizer_params *", lib.aitag_tokenizer_params_default())
    if word_ngrams is not None:
        kp.word_ngrams = int(word_ngrams)
    if char_ngrams:
        kp.char_ngram_min, kp.char_ngram_max = (int(v) for v in char_ngrams)
    kp.strip_accents = 1 if strip_accents else 0
    if max_token_bytes is not None:
        kp.max_token_bytes = int(max_token_bytes)
    why = lib.aitag_tokenizer_params_check(kp)
    if why != ffi.NULL:
        raise ValueError(ffi.string(why).decode())
    return kp


def train_params(C=None, eps=None, solver=None, min_df=None, max_df=None, max_features=None, folds=None,
                 threads=None, seed=None, search_C=False, multi_label=False, max_labels=None, gate=False):
    tp = ffi.new("aitag_train_params *", lib.aitag_train_params_default())
    if C is not None:
        tp.C = float(C)
    if eps is not None:
        tp.eps = float(eps)
    if solver is not None:
        if solver not in _SOLVERS:
            raise ValueError("solver must be dcd, liblinear or libsvm, not %r" % (solver,))
        tp.solver = _SOLVERS[solver]
    for name, v, conv in (("min_df", min_df, int), ("max_df", max_df, float),
                          ("max_features", max_features, int), ("folds", folds, int),
                          ("threads", threads, int), ("seed", seed, int), ("max_labels", max_labels, int)):
        if v is not None:
            setattr(tp, name, conv(v))
    tp.search_C = 1 if search_C else 0
    tp.force_multilabel = 1 if multi_label else 0
    tp.gate = 1 if gate else 0
    why = lib.aitag_train_params_check(tp)
    if why != ffi.NULL:
        raise ValueError(ffi.string(why).decode())
    if tp.search_C and tp.folds < 2:
        raise ValueError("search_C needs folds >= 2")
    return tp


_TOKENIZER_KEYS = ("word_ngrams", "char_ngrams", "strip_accents", "max_token_bytes")
_DATASET_KEYS = _TOKENIZER_KEYS + ("hash_bits", "max_labels", "passages")


class Dataset:
    """Labelled documents, tokenized as they are added (aitag_dataset)."""

    def __init__(self, hash_bits=0, max_labels=None, passages=0, **tok):
        kp = tokenizer_params(**tok)
        out = ffi.new("aitag_dataset **")
        err = ffi.new("aitag_error *")
        _check(lib.aitag_dataset_create(kp, int(hash_bits or 0), out, err), err)
        self.ptr = ffi.gc(out[0], lib.aitag_dataset_free)
        if max_labels is not None:
            lib.aitag_dataset_set_label_limit(self.ptr, int(max_labels))
        if passages:
            _check(lib.aitag_dataset_set_passages(self.ptr, int(passages), err), err)

    def add(self, text, labels):
        b = _text_bytes(text)
        names = [ffi.new("char[]", _text_bytes(l)) for l in labels]
        arr = ffi.new("const char *[]", names) if names else ffi.NULL
        err = ffi.new("aitag_error *")
        _check(lib.aitag_dataset_add(self.ptr, b, len(b), arr, len(names), err), err)

    def add_file(self, path, skip_bad=False, keep=None):
        """Adds a JSON-lines or fastText corpus, as `aitag train -i` reads it;
        returns the number of malformed lines skipped. keep (a list) receives
        the (text, labels) pairs added."""
        skipped = [0]
        name = os.fsdecode(path)
        for text, labels, line in read_corpus(path, skip_bad=skip_bad, skipped=skipped):
            try:
                self.add(text, labels)
            except AitagError as e:
                if e.status not in (lib.AITAG_LABEL, lib.AITAG_LIMIT):
                    raise
                msg = "%s:%d: %s" % (name, line, e.message)
                if not skip_bad or (e.status == lib.AITAG_LIMIT and "distinct labels" in e.message):
                    raise AitagError(e.status, msg) from None
                skipped[0] += 1
                continue
            if keep is not None:
                keep.append((text, labels))
        return skipped[0]

    def add_records(self, records):
        """Adds (text bytes, label names) pairs, as read_corpus yields them."""
        for text, labels in records:
            self.add(text, labels)

    def __len__(self):
        return lib.aitag_dataset_size(self.ptr)

    @property
    def num_labels(self):
        return lib.aitag_dataset_num_labels(self.ptr)


def read_corpus(path, skip_bad=False, skipped=None):
    """Yields (text bytes, [label bytes], line) for every article of a labelled
    corpus, read and checked as `aitag train -i` does (the title joined to the
    text; AitagError naming the file and line for a bad line unless skip_bad;
    skipped[0] counts the lines skipped)."""
    cp = ffi.new("aitag_corpus_params *", lib.aitag_corpus_params_default())
    r = ffi.new("aitag_corpus_reader **")
    err = ffi.new("aitag_error *")
    _check(lib.aitag_corpus_open(os.fsencode(path), cp, r, err), err)
    reader = ffi.gc(r[0], lib.aitag_corpus_close)
    rec = ffi.new("aitag_record *")
    name = os.fsdecode(path)
    while True:
        s = lib.aitag_corpus_next(reader, rec, err)
        if s == lib.AITAG_END:
            return
        if s == lib.AITAG_OK and lib.aitag_corpus_format(reader) == lib.AITAG_INPUT_TEXT:
            raise AitagError(lib.AITAG_PARSE, "%s: not a labelled corpus (expected JSON lines or "
                             "fastText __label__ lines)" % name)
        if s in (lib.AITAG_IO, lib.AITAG_NOMEM):
            _check(s, err)
        if s == lib.AITAG_OK and not rec.has_labels:
            s = lib.AITAG_PARSE
            err.msg = ('%s:%d: "labels" is missing (use [] for an article with no label)' % (
                name, rec.line)).encode()[:511]
        if s != lib.AITAG_OK:
            if rec.blank:
                continue  # an empty line is not an article
            if not skip_bad:
                _check(s, err)
            if skipped is not None:
                skipped[0] += 1
            continue
        yield (ffi.unpack(rec.text, rec.text_len),
               [ffi.string(rec.labels[i]) for i in range(rec.n_labels)], rec.line)


def _record_parts(r):
    if isinstance(r, dict):
        text = r.get("text")
        if text is None:
            raise ValueError('a record needs "text"')
        title = r.get("title")
        if title:
            text = title + "\n\n" + text  # as the corpus reader joins them
        labels = r.get("labels")
        if labels is None:
            raise ValueError('a record needs "labels" (use [] for an article with no label)')
        return text, labels
    text, labels = r
    if isinstance(labels, (str, bytes)):
        labels = [labels]
    return text, labels


def make_dataset(data, skip_bad=False, **params):
    ds = Dataset(**{k: params[k] for k in _DATASET_KEYS if k in params})
    if isinstance(data, (str, bytes, os.PathLike)):
        ds.add_file(data, skip_bad=skip_bad)
    else:
        for r in data:
            ds.add(*_record_parts(r))
    if len(ds) == 0:
        raise AitagError(lib.AITAG_EMPTY, "no documents to train on")
    return ds


def train(data, skip_bad=False, **params):
    """Trains a model from a corpus file (JSON lines or fastText) or an
    iterable of records: dicts {"text", "title"?, "labels": [...]} or
    (text, labels) pairs. Parameters are those of `aitag train` with
    underscores: C, eps, solver, min_df, max_df, max_features, folds,
    threads, seed, search_C, multi_label, max_labels, hash_bits,
    word_ngrams, char_ngrams=(min, max), strip_accents, max_token_bytes,
    passages (words per passage window; needs folds), gate (learn whether an
    article is about any label at all, from the unlabelled documents).
    The model's cross-validation report is in model.cv_report."""
    unknown = set(params) - set(_DATASET_KEYS) - set(train_params.__code__.co_varnames)
    if unknown:
        raise TypeError("unknown training parameter(s): %s" % ", ".join(sorted(unknown)))
    tp = train_params(**{k: v for k, v in params.items() if k not in _TOKENIZER_KEYS + ("hash_bits", "passages")})
    ds = make_dataset(data, skip_bad=skip_bad, **params)
    out = ffi.new("aitag_model **")
    rep = ffi.new("aitag_cv_report *")
    err = ffi.new("aitag_error *")
    _check(lib.aitag_train(ds.ptr, tp, ffi.NULL, ffi.NULL, out, rep, err), err)
    m = Model(out[0])
    m.cv_report = {"folds": rep.folds, "C": rep.C, "micro_f1": rep.micro_f1, "macro_f1": rep.macro_f1,
                   "accuracy": rep.accuracy, "subset_accuracy": rep.subset_accuracy,
                   "c_tried": list(rep.c_tried)[:rep.n_c], "c_score": list(rep.c_score)[:rep.n_c]}
    return m


def tokenize(text, model=None, **tok):
    """The terms the tokenizer emits for text (a model's settings, or tok)."""
    if model is not None:
        kp = lib.aitag_model_tokenizer_params(model._o.ptr)
    else:
        kp = tokenizer_params(**tok)
    out = ffi.new("aitag_tokenizer **")
    err = ffi.new("aitag_error *")
    _check(lib.aitag_tokenizer_create(kp, out, err), err)
    t = ffi.gc(out[0], lib.aitag_tokenizer_free)
    terms = []

    @ffi.callback("int(void *, const char *, size_t, int)")
    def fn(ud, term, n, kind):
        terms.append(ffi.unpack(term, n).decode("utf-8", "replace"))
        return 0

    b = _text_bytes(text)
    _check(lib.aitag_tokenize(t, b, len(b), fn, ffi.NULL, ffi.NULL, err), err)
    return terms

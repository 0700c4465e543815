"""scikit-learn estimators over aitag.

AitagClassifier: one linear SVM per label, tuned thresholds and calibrated
probabilities (aitag train), as a scikit-learn classifier. y may be

- a 1-D sequence of labels (one per text: multi-class; predict returns labels),
- a sequence of label lists (multi-label; predict returns a binary indicator
  matrix with columns classes_),
- a binary indicator matrix (numpy or scipy.sparse; columns are classes 0..K-1).

AitagVectorizer: the TF-IDF vectors aitag computes (its tokenizer, sublinear
tf, smoothed idf, L2 norm) as a scipy.sparse matrix.

Both follow the estimator conventions (get_params/set_params, clone,
GridSearchCV, cross_val_score) and pickle with the model as its file bytes.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

import aitag
from aitag._ffi import ffi, lib
from aitag._model import _check, _text_bytes


def _as_texts(X):
    if isinstance(X, (str, bytes)):
        raise ValueError("expected a sequence of texts, got a single string")
    return list(X)


class AitagClassifier(ClassifierMixin, BaseEstimator):
    """Parameters are those of `aitag train` (and min_labels/top_k of
    `aitag classify`); threads=0 uses every core."""

    def __init__(self, C=1.0, solver="dcd", min_df=2, max_df=1.0, max_features=None, word_ngrams=2,
                 char_ngrams=None, strip_accents=False, hash_bits=0, folds=3, search_C=False, seed=1,
                 threads=0, min_labels=0, top_k=0):
        self.C = C
        self.solver = solver
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.strip_accents = strip_accents
        self.hash_bits = hash_bits
        self.folds = folds
        self.search_C = search_C
        self.seed = seed
        self.threads = threads
        self.min_labels = min_labels
        self.top_k = top_k

    def _train_params(self):
        return dict(C=self.C, solver=self.solver, min_df=self.min_df, max_df=self.max_df,
                    max_features=self.max_features or 0, word_ngrams=self.word_ngrams,
                    char_ngrams=self.char_ngrams, strip_accents=self.strip_accents, hash_bits=self.hash_bits,
                    folds=self.folds, search_C=self.search_C, seed=self.seed, threads=self.threads)

    def fit(self, X, y):
        texts = _as_texts(X)
        if sp.issparse(y) or (isinstance(y, np.ndarray) and y.ndim == 2):
            Y = (y.toarray() if sp.issparse(y) else np.asarray(y)) != 0
            self.classes_ = np.arange(Y.shape[1])
            names = [str(c) for c in self.classes_]
            label_lists = [[names[j] for j in np.flatnonzero(row)] for row in Y]
            self.multilabel_ = True
        elif len(y) and all(isinstance(v, (list, tuple, set, frozenset)) for v in y):
            self.classes_ = np.array(sorted({l for v in y for l in v}), dtype=object)
            names = [str(c) for c in self.classes_]
            label_lists = [[str(l) for l in v] for v in y]
            self.multilabel_ = True
        else:
            y = np.asarray(y)
            if y.ndim != 1:
                raise ValueError("y must be labels, label lists or a binary indicator matrix")
            self.classes_ = np.unique(y)
            names = [str(c) for c in self.classes_]
            label_lists = [[str(v)] for v in y]
            self.multilabel_ = False
        if len(texts) != len(label_lists):
            raise ValueError("X has %d texts, y %d rows" % (len(texts), len(label_lists)))
        if len(set(names)) != len(names):
            raise ValueError("classes must stay distinct as strings")
        self.model_ = aitag.train(list(zip(texts, label_lists)), multi_label=self.multilabel_,
                                  **self._train_params())
        index = {n: j for j, n in enumerate(names)}
        self.columns_ = np.array([index[l] for l in self.model_.labels])  # model label k -> class column
        return self

    def _run(self, X):
        check_is_fitted(self, "model_")
        texts = _as_texts(X)
        K = len(self.classes_)
        probs = np.zeros((len(texts), K))
        margins = np.full((len(texts), K), -np.inf)
        tags = []
        m, cols = self.model_, self.columns_
        pos = {l: cols[k] for k, l in enumerate(m.labels)}
        for i, t in enumerate(texts):
            r = m.classify(t, top_k=self.top_k, min_labels=self.min_labels, margins=True)
            probs[i, cols] = [r["scores"][l] for l in m.labels]
            margins[i, cols] = [r["margins"][l] for l in m.labels]
            tags.append([pos[l] for l in r["labels"]])
        return probs, margins, tags

    def predict(self, X):
        probs, margins, tags = self._run(X)
        if not self.multilabel_:
            return np.array([self.classes_[t[0]] if t else self.classes_[np.argmax(margins[i])]
                             for i, t in enumerate(tags)], dtype=self.classes_.dtype)
        Y = np.zeros(probs.shape, dtype=int)
        for i, t in enumerate(tags):
            Y[i, t] = 1
        return Y

    def predict_proba(self, X):
        """Calibrated probabilities, one column per class; rows sum to 1 for
        single-label data (each label's probability otherwise)."""
        probs = self._run(X)[0]
        if not self.multilabel_:
            s = probs.sum(axis=1, keepdims=True)
            probs = np.divide(probs, s, out=np.full_like(probs, 1.0 / probs.shape[1]), where=s > 0)
        return probs

    def decision_function(self, X):
        """SVM margins, one column per class (-inf for a class the model
        could not train); for two classes, the margin of classes_[1] over
        classes_[0]."""
        margins = self._run(X)[1]
        if not self.multilabel_ and margins.shape[1] == 2:
            return margins[:, 1] - margins[:, 0]
        return margins

    def _more_tags(self):
        return {"X_types": ["string"], "multilabel": True, "requires_y": True}


class AitagVectorizer(TransformerMixin, BaseEstimator):
    """Texts -> the L2-normalised TF-IDF matrix aitag's classifier sees
    (scipy.sparse CSR, float32), with aitag's tokenizer and document-frequency
    cut-offs. hash_bits > 0 uses the hashing trick (no feature names then:
    they read "#id")."""

    def __init__(self, word_ngrams=2, char_ngrams=None, strip_accents=False, min_df=2, max_df=1.0,
                 max_features=None, hash_bits=0):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.strip_accents = strip_accents
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.hash_bits = hash_bits

    def fit(self, X, y=None):
        texts = _as_texts(X)
        if len(texts) < 2:
            raise ValueError("AitagVectorizer needs at least 2 texts")
        # The library builds its vocabulary and idf while training; one label
        # (on the first text only) and no folds keep that training minimal.
        recs = [(t, ["_"] if i == 0 else []) for i, t in enumerate(texts)]
        self.model_ = aitag.train(recs, word_ngrams=self.word_ngrams, char_ngrams=self.char_ngrams,
                                  strip_accents=self.strip_accents, min_df=self.min_df, max_df=self.max_df,
                                  max_features=self.max_features or 0, hash_bits=self.hash_bits, folds=0,
                                  threads=1)
        return self

    def transform(self, X):
        check_is_fitted(self, "model_")
        texts = _as_texts(X)
        owner = self.model_._o
        c = owner.classifier()
        feats = ffi.new("aitag_features *")
        err = ffi.new("aitag_error *")
        indptr, indices, data = [0], [], []
        try:
            for t in texts:
                b = _text_bytes(t)
                _check(lib.aitag_featurize(c, b, len(b), feats, ffi.NULL, err), err)
                n = feats.n
                if n:
                    indices.append(np.frombuffer(ffi.buffer(feats.ids, 4 * n), dtype=np.uint32).copy())
                    data.append(np.frombuffer(ffi.buffer(feats.vals, 4 * n), dtype=np.float32).copy())
                indptr.append(indptr[-1] + n)
        finally:
            owner.free.append(c)
        V = self.model_.num_features
        ind = np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32)
        val = np.concatenate(data) if data else np.zeros(0, np.float32)
        M = sp.csr_matrix((val, ind, np.array(indptr, dtype=np.int64)), shape=(len(texts), V))
        M.sort_indices()
        return M

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "model_")
        ptr = self.model_._o.ptr
        n = ffi.new("size_t *")
        names = []
        for i in range(self.model_.num_features):
            t = lib.aitag_model_term(ptr, i, n)
            names.append(ffi.unpack(t, n[0]).decode("utf-8") if t != ffi.NULL else "#%d" % i)
        return np.array(names, dtype=object)

    def _more_tags(self):
        return {"X_types": ["string"]}

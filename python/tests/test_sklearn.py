"""The scikit-learn estimators: fit/predict in the three shapes of y, model
selection, cloning and pickling, and the TF-IDF vectorizer."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.preprocessing import MultiLabelBinarizer

import aitag
from aitag.sklearn import AitagClassifier, AitagVectorizer
from conftest import full_text


@pytest.fixture(scope="module")
def data(train_docs, test_docs):
    Xtr = [full_text(d) for d in train_docs]
    Xte = [full_text(d) for d in test_docs]
    return Xtr, [d["labels"] for d in train_docs], Xte, [d["labels"] for d in test_docs]


def test_multilabel_lists_and_matrix(data, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # the creation date in the header
    Xtr, ytr, Xte, yte = data
    clf = AitagClassifier(folds=2, threads=2).fit(Xtr, ytr)
    assert list(clf.classes_) == sorted({l for v in ytr for l in v})
    P = clf.predict(Xte)
    mlb = MultiLabelBinarizer(classes=list(clf.classes_)).fit(ytr)
    Y = mlb.transform(yte)
    assert P.shape == Y.shape and set(np.unique(P)) <= {0, 1}
    micro_f1 = 2 * (P & Y).sum() / (P.sum() + Y.sum())
    assert micro_f1 > 0.8
    # the same model as aitag.train on the same records
    m = aitag.train(list(zip(Xtr, ytr)), folds=2, threads=1, multi_label=True)
    assert clf.model_.to_bytes() == m.to_bytes()
    # an indicator matrix: classes 0..K-1 (label names "0".."K-1", so another label order,
    # folds and thresholds: nearly the same predictions)
    clf2 = AitagClassifier(folds=2).fit(Xtr, sp.csr_matrix(mlb.transform(ytr)))
    assert list(clf2.classes_) == list(range(len(mlb.classes_)))
    P2 = clf2.predict(Xte)
    assert P2.shape == P.shape and (P2 == P).all(axis=1).mean() > 0.9
    proba = clf.predict_proba(Xte[:10])
    assert proba.shape == (10, len(clf.classes_)) and ((proba >= 0) & (proba <= 1)).all()
    dec = clf.decision_function(Xte[:10])
    assert dec.shape == proba.shape and (np.argmax(dec, axis=1) == np.argmax(proba, axis=1)).mean() > 0.8


def test_single_label_grid_search_and_pickle(data):
    Xtr, ytr, Xte, yte = data
    y1 = np.array([v[0] if v else "none" for v in ytr])
    g = GridSearchCV(AitagClassifier(folds=0, threads=2), {"C": [0.1, 1.0]}, cv=3).fit(Xtr, y1)
    assert g.best_params_["C"] in (0.1, 1.0) and g.best_score_ > 0.6
    best = g.best_estimator_
    pred = best.predict(Xte)
    assert pred.dtype == y1.dtype and set(pred) <= set(y1)
    proba = best.predict_proba(Xte[:20])
    assert np.allclose(proba.sum(axis=1), 1)
    assert (best.classes_[proba.argmax(axis=1)] == pred[:20]).mean() > 0.9
    again = pickle.loads(pickle.dumps(best))
    assert (again.predict(Xte[:50]) == pred[:50]).all()
    c = clone(best)
    assert c.get_params() == best.get_params() and not hasattr(c, "model_")
    scores = cross_val_score(AitagClassifier(folds=0, C=1.0), Xtr[:900], y1[:900], cv=3)
    assert len(scores) == 3 and scores.mean() > 0.5


def test_binary_decision_function():
    X = ["robot arm factory", "robots in the warehouse", "robot vacuum", "gpu chip wafer",
         "chip fab wafers", "gpu chips shortage"] * 3
    y = ["robots", "robots", "robots", "chips", "chips", "chips"] * 3
    clf = AitagClassifier(folds=0, min_df=1).fit(X, y)
    d = clf.decision_function(["robot arm", "gpu wafer"])
    assert list(clf.classes_) == ["chips", "robots"]
    assert d.shape == (2,) and d[0] > 0 > d[1]  # the margin of robots over chips
    assert list(clf.predict(["robot arm", "gpu wafer"])) == ["robots", "chips"]


def test_vectorizer(data):
    Xtr = data[0]
    v = AitagVectorizer(min_df=2, word_ngrams=1).fit(Xtr)
    M = v.transform(Xtr[:20])
    names = v.get_feature_names_out()
    assert sp.isspmatrix_csr(M) and M.shape == (20, len(names))
    norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1))).ravel()
    assert np.allclose(norms, 1, atol=1e-5)
    row = M[0].toarray().ravel()
    terms = set(aitag.tokenize(Xtr[0], word_ngrams=1))
    assert {names[j] for j in np.flatnonzero(row)} <= terms
    assert len(set(names)) == len(names) and " " not in "".join(names)  # unigrams only
    h = AitagVectorizer(hash_bits=12).fit(Xtr[:50])
    assert h.transform(Xtr[:3]).shape == (3, 4096)
    with pytest.raises(ValueError):
        AitagVectorizer().fit(["one text"])

"""Training by jobs on a local cluster of 4 worker processes: the model is the
one aitag.train and `aitag train` make, byte for byte, also when a worker is
killed mid-run."""
import faulthandler
import os
import subprocess

import pytest

import aitag
from aitag import dask_train
from conftest import CLI, PYTHON, TRAIN, kill_worker_busy_with

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(not dask_train.available(),
                                reason="libaitag has no job-level training API (aitag_training_*)")

PARAMS = dict(folds=3, search_C=True, min_df=2)


@pytest.fixture(scope="module")
def client():
    faulthandler.dump_traceback_later(900, exit=True)
    cluster = distributed.LocalCluster(n_workers=4, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ref.aitag"
    env = dict(os.environ, SOURCE_DATE_EPOCH="1767225600")
    subprocess.run([CLI, "train", "-q", "-i", TRAIN, "-o", out, "--folds", "3", "--search-C", "--threads", "2"],
                   check=True, env=env)
    return out.read_bytes()


def test_model_byte_identical(client, reference):
    m = dask_train.train(client, TRAIN, **PARAMS)
    assert m.to_bytes() == reference
    assert aitag.train(TRAIN, threads=2, **PARAMS).to_bytes() == reference
    assert m.cv_report["folds"] == 3 and len(m.cv_report["c_tried"]) == 6
    # records instead of a file, and a hashed, single-fold-free variant
    recs = [(t, ls) for t, ls, _ in aitag._model.read_corpus(TRAIN)][:800]
    a = dask_train.train(client, recs, folds=0, hash_bits=16, threads=2)
    assert a.to_bytes() == aitag.train(recs, folds=0, hash_bits=16).to_bytes()


def test_worker_killed_mid_run(client, reference):
    t, killed = kill_worker_busy_with(client, "run_jobs", 120, settle=0.2)
    m = dask_train.train(client, TRAIN, **PARAMS)
    t.join()
    assert killed, "no worker was busy with training jobs"
    assert m.to_bytes() == reference
    client.wait_for_workers(4, timeout=60)


def test_command_line(tmp_path):
    # the default model's kind of settings: passages and the gate, with a search over C
    args = ["--folds", "2", "--search-C", "--passages", "60", "--gate"]
    env = dict(os.environ, SOURCE_DATE_EPOCH="1767225600")
    ref = tmp_path / "ref.aitag"
    subprocess.run([CLI, "train", "-q", "-i", TRAIN, "-o", ref] + args, check=True, env=env)
    out = tmp_path / "m.aitag"
    subprocess.run([PYTHON, "-m", "aitag.dask", "train", "--scheduler", "local:2", "-q", "-i", TRAIN, "-o", out]
                   + args, check=True, env=env, timeout=600)
    assert out.read_bytes() == ref.read_bytes()
    assert aitag.load(out).info["passages"]

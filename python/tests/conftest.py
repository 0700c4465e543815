"""Shared fixtures: the build's CLI, model and corpus (paths from CMake's environment,
with the build tree of a source checkout as the fallback)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.environ.get("AITAG_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("AITAG_BUILD_DIR") or os.path.join(ROOT, "build")
CLI = os.environ.get("AITAG_CLI") or os.path.join(BUILD, "aitag")
MODEL = os.environ.get("AITAG_MODEL") or os.path.join(BUILD, "models", "default.aitag")
TRAIN = os.path.join(ROOT, "datasets", "ai-sectors", "train.jsonl")
TEST = os.path.join(ROOT, "datasets", "ai-sectors", "test.jsonl")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, os.path.join(ROOT, "python"))


def run_cli(*args, **kw):
    """The CLI's stdout; exit status 1 (some bad input lines) is expected in places."""
    p = subprocess.run([CLI] + [str(a) for a in args], stdout=subprocess.PIPE, **kw)
    assert p.returncode in (0, 1), "aitag %s: exit status %d" % (args[0], p.returncode)
    return p.stdout


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def model():
    import aitag
    return aitag.load(MODEL)


@pytest.fixture(scope="session")
def test_docs():
    return read_jsonl(TEST)


@pytest.fixture(scope="session")
def train_docs():
    return read_jsonl(TRAIN)


def full_text(d):
    return d["title"] + "\n\n" + d["text"] if d.get("title") else d["text"]


# worker processes of a local Dask cluster import the package too
os.environ["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "python")] +
                                           [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
# models trained twice are compared byte for byte: one creation date for all
os.environ["SOURCE_DATE_EPOCH"] = "1767225600"

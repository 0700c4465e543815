"""Shared fixtures: the build's CLI, model and corpus (paths from CMake's environment,
with the build tree of a source checkout as the fallback)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

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


def kill_worker_busy_with(client, task_name, timeout, settle=0.0):
    """Starts a thread that SIGKILLs the first Dask worker seen running a task
    whose key holds task_name (after settle seconds), within timeout seconds.
    Returns the thread and the list that receives the killed worker's pid."""
    killed = []

    def kill():
        deadline = time.time() + timeout
        while time.time() < deadline:
            busy = [w for w, tasks in client.processing().items() if any(task_name in str(t) for t in tasks)]
            if busy:
                time.sleep(settle)
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    t = threading.Thread(target=kill)
    t.start()
    return t, killed


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

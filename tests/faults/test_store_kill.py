"""Fault test of the image store: ``kill -9`` of a build mid-way (the builder and its worker processes) leaves a
store that is never read as complete; rerunning decodes only the missing chunks and equals the in-memory decode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.data import imagestore, storebuild
from core.data.folder import folder_stored
from core.store import list_stores
from tests.test_imagestore import REPO, make_folder, reference

_BUILD = (
    "import sys; from pathlib import Path; from core.data.folder import folder_stored; "
    "folder_stored(Path(sys.argv[1]), 16, Path(sys.argv[2]))"
)


def _markers(cache: Path) -> list[int]:
    building = [Path(s["path"]) for s in list_stores(cache) if not s["complete"]]
    return sorted(storebuild.done_chunks(building[0])) if building else []


@pytest.mark.slow
def test_kill_9_mid_build_then_rerun_completes(tmp_path, monkeypatch):
    root, cache = make_folder(tmp_path / "imgs", per_class=10), tmp_path / "cache"
    env = os.environ | {"PYTHONPATH": str(REPO), storebuild.CHUNK_ENV: "1", storebuild.WORKERS_ENV: "2"}
    env[storebuild.DELAY_ENV] = "0.2"  # 30 one-image chunks (31 files, one unreadable), each held 0.2 s
    proc = subprocess.Popen(
        [sys.executable, "-c", _BUILD, str(root), str(cache)], env=env, cwd=REPO, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while len(_markers(cache)) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the builder and its two workers, mid-build
    proc.wait()
    done = _markers(cache)
    total = 30
    assert 4 <= len(done) < total
    (partial,) = list_stores(cache)
    assert not partial["complete"]
    assert imagestore.open_store(Path(partial["path"].removesuffix(".building"))) is None

    monkeypatch.setenv(storebuild.CHUNK_ENV, "7")  # ignored on resume: the plan keeps its chunk size
    monkeypatch.setenv(storebuild.WORKERS_ENV, "1")
    calls: list[int] = []
    real = storebuild.decode_chunk
    monkeypatch.setattr(storebuild, "decode_chunk", lambda *a: calls.append(a[1]) or real(*a))
    stored = folder_stored(root, 16, cache)
    assert sorted(calls) == sorted(set(range(total)) - set(done))  # only the chunks without a marker
    x = np.concatenate([stored.x_train, stored.x_test])
    np.testing.assert_array_equal(x, reference(root, 16)[0])
    assert [s["complete"] for s in list_stores(cache)] == [True]

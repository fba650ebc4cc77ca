"""Shared fixtures: an isolated runs root, the job queue without processes, and tiny real digits runs
(trained once, analysed once) per test session; tests that change a run copy it first."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    """A fresh, empty runs root exported as HARDPAIRS_RUNS."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    return root


@pytest.fixture
def no_launch() -> Iterator[list[Path]]:
    """Job records are written for real, but no process starts (they stay queued).

    Yields the job folders the queue asked to start, in order (the queue's launcher seam,
    ``core.jobs.queue.using_launcher``).
    """
    from core.jobs.queue import using_launcher

    launched: list[Path] = []
    with using_launcher(launched.append):
        yield launched


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real digits run: quick preset, 3 epochs, features and metrics written (about 5 s on a CPU)."""
    from core.cli import main

    root = tmp_path_factory.mktemp("tiny_runs")
    run_dir = root / "digits-tiny"
    code = main(["train", "--dataset", "digits", "--preset", "quick", "--epochs", "3", "--run-dir", str(run_dir)])
    assert code == 0
    return run_dir


@pytest.fixture
def tiny_run_copy(tiny_run, tmp_path) -> Path:
    """A private copy of :func:`tiny_run` (same folder name, alone in ``tmp_path / "runs"``) for a test
    that writes into the run, so the session's run stays as every other test expects it."""
    run = tmp_path / "runs" / tiny_run.name
    shutil.copytree(tiny_run, run)
    return run


@pytest.fixture(scope="session")
def analysed_run(tiny_run, tmp_path_factory) -> Path:
    """A copy of :func:`tiny_run` with every analysis (scores, pairs, map, theory), made once per session.

    Shared: a test that changes a run copies it first (``shutil.copytree(analysed_run, tmp_path / name)``).
    """
    from core.runs.analysis import analyse_run

    run = tmp_path_factory.mktemp("analysed_runs") / "digits-analysed"
    shutil.copytree(tiny_run, run)
    analyse_run(run)
    return run

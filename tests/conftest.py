"""Shared fixtures: an isolated runs root, and one tiny real digits run per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    """A fresh, empty runs root exported as HARDPAIRS_RUNS."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("HARDPAIRS_RUNS", str(root))
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real digits run: quick preset, 3 epochs, features and metrics written (about 5 s on a CPU)."""
    from core.cli import main

    root = tmp_path_factory.mktemp("tiny_runs")
    run_dir = root / "digits-tiny"
    code = main(["train", "--dataset", "digits", "--preset", "quick", "--epochs", "3", "--run-dir", str(run_dir)])
    assert code == 0
    return run_dir

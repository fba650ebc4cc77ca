"""Helpers shared by test modules (import as ``from tests.helpers import ...``; fixtures stay in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(argv: list, capsys) -> tuple[int, dict]:
    """Run ``python -m core`` in-process; return (exit status, the last stdout line as JSON)."""
    from core.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def run_cli_process(argv: list, timeout: float = 120) -> tuple[int, dict, str]:
    """Run ``python -m core`` in a child process from the repository root (for cases that could block or must
    not share this process); return (exit status, the last stdout line as JSON, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "core", *map(str, argv)],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, json.loads(proc.stdout.splitlines()[-1]), proc.stderr


def fake_run(
    root: Path,
    run_id: str,
    *,
    loss_mode: str = "baseline",
    seed: int = 0,
    linear: float | None = None,
    knn: float | None = None,
    created: float = 0.0,
    state: str = "done",
    parent: str | None = None,
    score: str | None = None,
    ratio: float | None = None,
    n_kept: int = 1437,
    wall: float = 12.5,
) -> Path:
    """A run folder with the files the app reads (config, manifest, status; metrics when ``linear`` is
    given) and no model, for page tests that must not train."""
    from core.io import write_json

    d = root / run_id
    write_json(
        d / "config.json", {"dataset": "digits", "preset": "quick", "loss_mode": loss_mode, "seed": seed, "epochs": 3}
    )
    write_json(
        d / "manifest.json",
        {
            "created": created,
            "n_kept": n_kept,
            "n_train": 1437,
            "wall_time_s": wall,
            "parent": parent,
            "prune": {"score": score, "ratio": ratio} if score else None,
        },
    )
    write_json(d / "status.json", {"state": state, "epoch": 3, "epochs": 3})
    if linear is not None:
        write_json(d / "metrics.json", {"linear_acc": linear, "knn_acc": knn})
    return d

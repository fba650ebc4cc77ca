"""Helpers shared by test modules (import as ``from tests.helpers import ...``; fixtures stay in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path


def run_cli(argv: list, capsys) -> tuple[int, dict]:
    """Run ``python -m core`` in-process; return (exit status, the last stdout line as JSON)."""
    from core.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


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

"""The Runs page's runs table (pure: list_runs rows -> DataFrame)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.reports.labels import pruning_text, run_labels


def runs_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The runs table: key numbers per run (accuracies in percent), rows in the given order; ``label``
    names each run's configuration among these rows (``core.reports.labels``)."""
    frame = pd.DataFrame(list(rows))
    return pd.DataFrame(
        {
            "run": frame["run_id"],
            "label": run_labels(list(rows)),
            "dataset": frame["dataset"],
            "loss mode": frame["loss_mode"],
            "seed": frame["seed"],
            "epochs": frame["epochs"],
            "state": frame["state"],
            "linear probe %": pd.to_numeric(frame["linear_acc"], errors="coerce") * 100,
            "kNN %": pd.to_numeric(frame["knn_acc"], errors="coerce") * 100,
            "pruning": [pruning_text(s, r) for s, r in zip(frame["prune_score"], frame["prune_ratio"], strict=True)],
            "kept": pd.to_numeric(frame["n_kept"], errors="coerce"),
            "train time (s)": pd.to_numeric(frame["wall_time_s"], errors="coerce"),
            "note": [note_text(r) for r in rows],
        }
    )


def note_text(row: dict[str, Any]) -> str:
    """What an ``unreadable`` or ``interrupted`` run's row must say (its message); "" for the others."""
    return str(row.get("message") or "") if row.get("state") in ("unreadable", "interrupted") else ""

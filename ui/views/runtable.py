"""The Runs page's runs table (pure: list_runs rows -> DataFrame)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd


def pruning_text(score: Any, ratio: Any) -> str:
    """``"band 25%"`` for a pruned run; "" for an unpruned one (score None, or NaN in a mixed column).

    NaN never counts as a value: a pruned run with no readable ratio shows its score alone.
    """
    if not isinstance(score, str) or not score or score.lower() == "nan":
        return ""
    try:
        value = float(ratio)
    except (TypeError, ValueError):
        return score
    return f"{score} {100 * value:.0f}%" if math.isfinite(value) else score


def runs_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The runs table: key numbers per run (accuracies in percent), rows in the given order."""
    frame = pd.DataFrame(list(rows))
    return pd.DataFrame(
        {
            "run": frame["run_id"],
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

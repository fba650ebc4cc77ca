"""What the Compare page derives from ``core.runs.report`` tables for display (pure)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def panel_choices(panels: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """``{"dataset · loss mode": (dataset, loss mode)}`` of the accuracy-vs-ratio panels, in order."""
    return {f"{d} · {m}": (d, m) for d, m in panels}


def has_random_baseline(grouped: pd.DataFrame, dataset: str, loss_mode: str) -> bool:
    """Whether the grouped runs of (dataset, loss mode) include random-pruning retrains."""
    rows = grouped[(grouped["dataset"] == dataset) & (grouped["loss_mode"] == loss_mode)]
    return "random" in set(rows["prune_score"])


def delta_view(deltas: pd.DataFrame) -> pd.DataFrame:
    """``report.parent_deltas`` for display: ratio and accuracy changes in percent / percentage points."""
    view = deltas[["run_id", "parent", "prune_score", "prune_ratio", "seed"]].copy()
    view["prune_ratio"] = 100 * view["prune_ratio"]
    view["linear Δ (pp)"] = 100 * deltas["delta_linear"]
    view["kNN Δ (pp)"] = 100 * deltas["delta_knn"]
    return view

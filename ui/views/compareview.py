"""What the Compare page derives from ``core.reports.report`` and ``core.reports.compare`` tables for display
(pure): the charts' axis captions (the charts: ``core.figures.accuracy``), what one test image is worth,
the groups a "Repeat over seeds 0–2" can complete. The seed-group and pair tables are shown as
``core.reports.compare_tables`` formats them, for the page and the report alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from core.reports.compare import load_predictions


def panel_choices(panels: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """``{"dataset · loss mode": (dataset, loss mode)}`` of the accuracy-vs-ratio panels, in order."""
    return {f"{d} · {m}": (d, m) for d, m in panels}


def has_random_baseline(grouped: pd.DataFrame, dataset: str, loss_mode: str) -> bool:
    """Whether the grouped runs of (dataset, loss mode) include random-pruning retrains."""
    rows = grouped[(grouped["dataset"] == dataset) & (grouped["loss_mode"] == loss_mode)]
    return "random" in set(rows["prune_score"])


def delta_view(deltas: pd.DataFrame) -> pd.DataFrame:
    """``report_tables.parent_deltas`` for display: ratio and accuracy changes in percent / percentage points."""
    view = deltas[["run_id", "parent", "prune_score", "prune_ratio", "seed"]].copy()
    view["prune_ratio"] = 100 * view["prune_ratio"]
    view["linear Δ (pp)"] = 100 * deltas["delta_linear"]
    view["kNN Δ (pp)"] = 100 * deltas["delta_knn"]
    return view


# ---- honest comparisons: seed groups with intervals, paired tests, the chart's axis ----------------

AXIS_FROM_ZERO = (
    "The accuracy axis starts at 0 %, so a bar's height is the accuracy itself; differences of a "
    "few points look small here on purpose — read them in the paired tests below."
)
AXIS_ZOOMED = (
    "Zoomed: the accuracy axis does NOT start at 0 %; it spans the data so that intervals can be told "
    "apart. Gaps look larger than they are — read them against the error bars and the paired tests."
)
ERROR_BARS = "Error bars: Student-t 95 % interval of the mean over seeds; n=1 has no bar (interval undefined)."


def image_worth(groups: pd.DataFrame) -> list[str]:
    """Per dataset: ``"digits: one test image = 0.28 points (M = 359 test images)"``, from predictions.npz."""
    out = []
    for dataset, g in groups.groupby("dataset", sort=True):
        sizes = {len(p["y_true"]) for d in _flat(g["run_dirs"]) if (p := load_predictions(d)) is not None}
        if sizes:
            m = max(sizes)
            out.append(f"{dataset}: one test image = {100 / m:.2f} points (M = {m} test images)")
        else:
            out.append(f"{dataset}: test-set size unknown (no run has predictions.npz yet; re-probe a run)")
    return out


def _flat(lists: Sequence[Sequence[str]]) -> list[str]:
    return [x for sub in lists for x in sub]


def repeat_choices(groups: pd.DataFrame, seeds: Sequence[int] = (0, 1, 2)) -> dict[str, dict[str, Any]]:
    """``{"<group label> · seed 0 (n=1)": group row}`` of the groups missing a seed of ``seeds`` (the
    labels of ``group_table`` are unique, so are these keys)."""
    out = {}
    for g in groups.to_dict(orient="records"):
        if set(seeds) - set(g["seeds"]):
            out[f"{g['label']} · {g['seeds_text']}"] = g
    return out


def pick_probe(groups: pd.DataFrame) -> list[str]:
    """Probe signatures of the groups, the one with the most runs first (the page shows one at a time)."""
    counts = groups.groupby("probe")["n"].sum()
    return sorted(counts.index, key=lambda p: (-int(counts[p]), p))

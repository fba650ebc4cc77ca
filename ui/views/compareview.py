"""What the Compare page derives from ``core.reports.report`` and ``core.reports.compare`` tables for display
(pure): the charts' axis captions (the charts: ``core.figures.accuracy``), what one test image is worth,
the groups a "Repeat over seeds 0–2" can complete. The seed-group and pair tables are shown as
``core.reports.compare_tables`` formats them, for the page and the report alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from core.reports.compare import load_predictions
from core.reports.compare_tables import ci_text, pm


def panel_choices(panels: Iterable[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """``{"dataset · loss mode": (dataset, loss mode)}`` of the accuracy-vs-ratio panels, in order."""
    return {f"{d} · {m}": (d, m) for d, m in panels}


def has_random_baseline(grouped: pd.DataFrame, dataset: str, loss_mode: str) -> bool:
    """Whether the grouped runs of (dataset, loss mode) include random-pruning retrains."""
    rows = grouped[(grouped["dataset"] == dataset) & (grouped["loss_mode"] == loss_mode)]
    return "random" in set(rows["prune_score"])


def group_of(groups: pd.DataFrame) -> dict[str, str]:
    """``{run_id: its group's label}`` (``core.reports.compare.group_table``: the labels are unique)."""
    return {rid: str(g["label"]) for g in groups.to_dict(orient="records") for rid in g["run_ids"]}


def delta_view(deltas: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """``report_tables.parent_deltas`` for reading: the pruned run by its configuration's label and seed
    (``labels``: :func:`group_of`; the run id where it has none), the pruning in words, accuracy changes
    in percentage points as signed text."""
    labels = labels or {}
    runs = zip(deltas["run_id"], deltas["seed"], strict=True)
    pruning = zip(deltas["prune_score"], deltas["prune_ratio"], strict=True)
    return pd.DataFrame(
        {
            "pruned run": [f"{labels.get(r, r)} · seed {s}" for r, s in runs],
            "pruned by": [f"{s}, {100 * float(r):g} % removed" for s, r in pruning],
            "linear probe Δ (pp)": [f"{100 * float(v):+.2f}" for v in deltas["delta_linear"]],
            "kNN Δ (pp)": [f"{100 * float(v):+.2f}" for v in deltas["delta_knn"]],
        }
    )


def summary_view(groups: pd.DataFrame) -> pd.DataFrame:
    """The seed groups as the page shows them: the configuration's label (it names the dataset, mix,
    loss mode, pruning and whatever else differs), mean ± std and the 95 % interval of each probe, the
    seeds. The probe protocol is one per view (the page says which)."""
    rows = []
    for g in groups.to_dict(orient="records"):
        row = {"configuration": g["label"]}
        for m, name in (("linear", "linear probe"), ("knn", "kNN")):
            row[f"{name} % (mean ± std)"] = pm(g[f"{m}_mean"], g[f"{m}_std"], g["n"])
            row[f"{name} 95 % CI"] = ci_text(g[f"{m}_ci_low"], g[f"{m}_ci_high"], g["n"])
        row["seeds"] = g["seeds_text"]
        rows.append(row)
    return pd.DataFrame(rows)


def group_notes(groups: pd.DataFrame) -> list[str]:
    """``"label: note"`` for every group with a note other than the one-seed one (n shows that)."""
    return [
        f"{g['label']}: {g['note']}"
        for g in groups.to_dict(orient="records")
        if isinstance(g.get("note"), str) and g["note"] and not g["note"].startswith("n=1")
    ]


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


def md_escape(text: str) -> str:
    """``text`` with Markdown's special characters escaped (run names are data, shown as written)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]<>()#+!|~$" else ch for ch in str(text))


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for ``st.table``, whose cells render Markdown: every cell a string with the characters
    that Markdown would act on inside names (``\\ ` * _ ~ $``; raw HTML is never rendered) escaped, so run
    names show as written."""
    return frame.map(lambda v: "".join("\\" + ch if ch in "\\`*_~$" else ch for ch in str(v)))

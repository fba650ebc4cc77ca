"""What the Compare page derives from ``core.reports.report`` and ``core.reports.compare`` tables for display
(pure): the seed-group table with intervals, the charts with their axis rule, what one test image is worth,
the groups a "Repeat over seeds 0–2" can complete."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.reports.compare import BASELINE_SCORE, UNPRUNED, load_predictions
from core.reports.report_tables import ci_text, pm


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


def group_view(groups: pd.DataFrame) -> pd.DataFrame:
    """``core.reports.compare.group_table`` for display: mean ± std, 95 % interval, the seed list with n."""
    rows = []
    for g in groups.to_dict(orient="records"):
        row = {
            "dataset": g["dataset"],
            "loss mode": g["loss_mode"],
            "prune score": g["prune_score"],
            "pruned %": round(100 * g["prune_ratio"], 1),
            "probe": g["probe"],
        }
        for m, label in (("linear", "linear probe"), ("knn", "kNN")):
            mean, std = _num(g[f"{m}_mean"]), _num(g[f"{m}_std"])
            row[f"{label} %"] = pm(mean, std, g["n"])
            row[f"{label.split()[0] if m == 'linear' else 'kNN'} 95% CI"] = ci_text(mean, std, g["n"])
        row["seeds"] = g["seeds_text"]
        rows.append(row)
    return pd.DataFrame(rows)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _half_widths(frame: pd.DataFrame, metric: str) -> list[float]:
    low, high = frame[f"{metric}_ci_low"], frame[f"{metric}_ci_high"]
    return [0.0 if pd.isna(a) else 50 * (float(b) - float(a)) for a, b in zip(low, high, strict=True)]


def _axis(fig: go.Figure, zoom: bool, label: str) -> None:
    fig.update_layout(template="plotly_white", height=380, margin=dict(l=50, r=20, t=50, b=45))
    fig.update_yaxes(title=f"{label} accuracy (%)", **({} if zoom else {"range": [0, 100.5]}))


def ratio_figure(
    groups: pd.DataFrame, dataset: str, loss_mode: str, metric: str = "linear", zoom: bool = False
) -> go.Figure:
    """Accuracy (%) vs pruned share (%), one line per score from the unpruned group, 95 % interval bars."""
    sel = groups[(groups["dataset"] == dataset) & (groups["loss_mode"] == loss_mode)]
    base = sel[sel["prune_score"] == UNPRUNED]
    fig = go.Figure()
    for score in sorted(set(sel["prune_score"]) - {UNPRUNED}):
        pts = pd.concat([base, sel[sel["prune_score"] == score]]).sort_values("prune_ratio")
        is_base = score == BASELINE_SCORE
        fig.add_trace(
            go.Scatter(
                x=100 * pts["prune_ratio"],
                y=100 * pts[f"{metric}_mean"].astype(float),
                mode="lines+markers",
                name=f"{score} (baseline)" if is_base else score,
                error_y=dict(type="data", array=_half_widths(pts, metric), visible=True),
                line=dict(dash="dash", color="#888") if is_base else None,
                customdata=pts["seeds_text"],
                hovertemplate="ratio %{x:.0f}%: %{y:.2f}% (seeds %{customdata})<extra>" + score + "</extra>",
            )
        )
    label = "linear probe" if metric == "linear" else "kNN"
    fig.update_layout(title=f"{dataset} · {loss_mode}: {label} accuracy vs pruning ratio", legend=dict(title="score"))
    fig.update_xaxes(title="pruned share of the training set (%)")
    _axis(fig, zoom, label)
    return fig


def bars_figure(groups: pd.DataFrame, metric: str = "linear", zoom: bool = False) -> go.Figure:
    """Unpruned groups: accuracy (%) per loss mode, one colour per dataset, 95 % interval bars."""
    base = groups[groups["prune_score"] == UNPRUNED]
    fig = go.Figure()
    for dataset, g in base.groupby("dataset", sort=True):
        fig.add_trace(
            go.Bar(
                x=g["loss_mode"],
                y=100 * g[f"{metric}_mean"].astype(float),
                name=str(dataset),
                error_y=dict(type="data", array=_half_widths(g, metric), visible=True),
                customdata=g["seeds_text"],
                hovertemplate="%{x}: %{y:.2f}% (seeds %{customdata})<extra>" + str(dataset) + "</extra>",
            )
        )
    label = "linear probe" if metric == "linear" else "kNN"
    fig.update_layout(title=f"Unpruned runs: {label} accuracy by loss mode", legend=dict(title="dataset"))
    fig.update_xaxes(title="loss mode")
    _axis(fig, zoom, label)
    return fig


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
    """``{"dataset · loss · score ratio% · seeds 0 (n=1)": group row}`` of the groups missing a seed of ``seeds``."""
    out = {}
    for g in groups.to_dict(orient="records"):
        if set(seeds) - set(g["seeds"]):
            prune = "unpruned" if g["prune_score"] == UNPRUNED else f"{g['prune_score']} {100 * g['prune_ratio']:g}%"
            out[f"{g['dataset']} · {g['loss_mode']} · {prune} · {g['probe']} · seeds {g['seeds_text']}"] = g
    return out


def pick_probe(groups: pd.DataFrame) -> list[str]:
    """Probe signatures of the groups, the one with the most runs first (the page shows one at a time)."""
    counts = groups.groupby("probe")["n"].sum()
    return sorted(counts.index, key=lambda p: (-int(counts[p]), p))

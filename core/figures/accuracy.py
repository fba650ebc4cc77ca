"""The accuracy charts of the Compare page and of the HTML report, drawn from the same seed-group table.

``groups`` is ``core.reports.compare.group_table``: one row per configuration with label (unique per
row), dataset, loss_mode, prune_score, prune_ratio, seeds_text and {linear,knn}_{mean,ci_low,ci_high}
(fractions; None for n = 1).
The caller names the prune score of unpruned groups (``unpruned``) and of the random baseline
(``baseline``), as ``core.reports.compare`` defines them (this room sits below the reports).

- :func:`bars_figure` -- unpruned groups: one bar per seed group (its label), one colour per dataset.
- :func:`ratio_figure` -- accuracy vs pruned share, one line per score starting at the unpruned group.

Both draw the Student-t 95 % interval of the mean over seeds as error bars (none for n = 1) and
start the accuracy axis at 0 % unless ``zoom``.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd
import plotly.graph_objects as go

METRIC_LABELS = {"linear": "linear probe", "knn": "kNN"}


def _half_widths(frame: pd.DataFrame, metric: str) -> list[float]:
    """Half-width of each row's 95 % interval in points (0 where undefined)."""
    low, high = frame[f"{metric}_ci_low"], frame[f"{metric}_ci_high"]
    return [0.0 if pd.isna(a) else 50 * (float(b) - float(a)) for a, b in zip(low, high, strict=True)]


def wrapped(label: str, width: int = 28, lines: int = 4) -> str:
    """A group label as an axis tick: lines of about ``width`` characters (plotly's ``<br>``), at most
    ``lines`` of them (then ``…``; the hover and the table above the chart give the whole label)."""
    parts = textwrap.wrap(str(label), width, break_long_words=False) or [str(label)]
    return "<br>".join(parts if len(parts) <= lines else [*parts[: lines - 1], parts[lines - 1] + " …"])


def _axis(fig: go.Figure, zoom: bool, label: str) -> None:
    fig.update_layout(template="plotly_white", height=380, margin={"l": 50, "r": 20, "t": 50, "b": 45})
    fig.update_yaxes(title=f"{label} accuracy (%)", **({} if zoom else {"range": [0, 100.5]}))


def _percent(frame: pd.DataFrame, metric: str) -> Any:
    return 100 * frame[f"{metric}_mean"].astype(float)


def ratio_figure(
    groups: pd.DataFrame,
    dataset: str,
    loss_mode: str,
    metric: str = "linear",
    zoom: bool = False,
    *,
    unpruned: str,
    baseline: str,
) -> go.Figure:
    """Accuracy (%) vs pruned share (%) of (dataset, loss mode): one line per score from the unpruned
    group, the ``baseline`` score dashed grey, 95 % interval bars."""
    sel = groups[(groups["dataset"] == dataset) & (groups["loss_mode"] == loss_mode)]
    base = sel[sel["prune_score"] == unpruned]
    fig = go.Figure()
    for score in sorted(set(sel["prune_score"]) - {unpruned}):
        pts = pd.concat([base, sel[sel["prune_score"] == score]]).sort_values("prune_ratio")
        is_base = score == baseline
        fig.add_trace(
            go.Scatter(
                x=100 * pts["prune_ratio"],
                y=_percent(pts, metric),
                mode="lines+markers",
                name=f"{score} (baseline)" if is_base else score,
                error_y={"type": "data", "array": _half_widths(pts, metric), "visible": True},
                line={"dash": "dash", "color": "#888"} if is_base else None,
                customdata=pts["seeds_text"],
                hovertemplate="ratio %{x:.0f}%: %{y:.2f}% (%{customdata})<extra>" + score + "</extra>",
            )
        )
    label = METRIC_LABELS[metric]
    fig.update_layout(title=f"{dataset} · {loss_mode}: {label} accuracy vs pruning ratio", legend={"title": "score"})
    fig.update_xaxes(title="pruned share of the training set (%)")
    _axis(fig, zoom, label)
    return fig


def bars_figure(groups: pd.DataFrame, metric: str = "linear", zoom: bool = False, *, unpruned: str) -> go.Figure:
    """Unpruned groups: accuracy (%) of each seed group (x: its label), one colour per dataset, 95 % interval bars."""
    base = groups[groups["prune_score"] == unpruned]
    fig = go.Figure()
    for dataset, g in base.groupby("dataset", sort=True):
        fig.add_trace(
            go.Bar(
                x=[wrapped(t) for t in g["label"]],
                y=_percent(g, metric),
                name=str(dataset),
                error_y={"type": "data", "array": _half_widths(g, metric), "visible": True},
                customdata=g["seeds_text"],
                text=g["label"],
                textposition="none",
                hovertemplate="%{text}: %{y:.2f}% (%{customdata})<extra>" + str(dataset) + "</extra>",
            )
        )
    label = METRIC_LABELS[metric]
    fig.update_layout(title=f"Unpruned runs: {label} accuracy over seeds", legend={"title": "dataset"})
    fig.update_xaxes(title="configuration")
    _axis(fig, zoom, label)
    return fig

"""Difficulty over training (the paper's Fig. 4c and more): per epoch, the share of flagged pairs that are
cross-class, the mean similarity of the flagged pairs and the flagged share, for one run or several overlaid.

Pure: the figure is drawn from plain per-run series (``core.runs.progress.DifficultySeries.as_dict``), each
with its label (``core.reports.labels``), so the Theory page and the report draw the same figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: the panels, top to bottom: progress.jsonl key -> (panel title, y-axis title)
PANELS: dict[str, tuple[str, str]] = {
    "flagged_cross_class": ("Cross-class share of the flagged pairs (Fig. 4c)", "cross-class share"),
    "flagged_similarity": ("Mean cosine similarity of the flagged pairs", "similarity"),
    "flagged_share": ("Flagged share of all pairs", "flagged share"),
}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def difficulty_figure(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> go.Figure:
    """One panel per key of :data:`PANELS`, one line per run (same colour in every panel, one legend entry).

    Args:
        runs: ``(label, series)`` per run; ``series`` has ``epoch`` (E,) and, per panel key, (E,) floats or
            None (a gap). A run with no value in a panel draws nothing there.

    Returns:
        A ``go.Figure`` whose traces are named by the run labels; ``meta`` of each trace is its panel key.
    """
    fig = make_subplots(
        rows=len(PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.08,
        subplot_titles=[title for title, _ in PANELS.values()],
    )  # fmt: skip
    for i, (label, series) in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        shown = False
        for row, key in enumerate(PANELS, start=1):
            ys = list(series.get(key) or [])
            if not any(y is not None for y in ys):
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(series.get("epoch") or []), y=ys, name=label, legendgroup=label, showlegend=not shown,
                    mode="lines+markers", line={"color": color}, meta=key,
                    hovertemplate="%{fullData.name}<br>epoch %{x}<br>" + PANELS[key][1] + " %{y:.4f}<extra></extra>",
                ),
                row=row, col=1,
            )  # fmt: skip
            shown = True
    for row, (_, ytitle) in enumerate(PANELS.values(), start=1):
        fig.update_yaxes(title_text=ytitle, row=row, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    shares = [y for _, s in runs for y in (s.get("flagged_share") or []) if y is not None]
    # from 0: the band flags a near-constant share, whose noise would fill a zoomed axis
    fig.update_yaxes(range=[0, 1.25 * max(shares, default=0.1) or 0.1], row=len(PANELS), col=1)
    last = max((e for _, s in runs for e in (s.get("epoch") or [])), default=1)
    fig.update_xaxes(dtick=max(1, math.ceil(last / 10)))  # whole epochs
    fig.update_xaxes(title_text="epoch", row=len(PANELS), col=1)
    fig.update_layout(
        height=720, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.08},
    )  # fmt: skip
    return fig

"""The Prune & retrain figures: one score's histogram with the cut marked, and what goes per class.
Pure: every function returns a ``go.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.layout import KEPT_COLOR, REMOVED_COLOR


def score_histogram(scores: np.ndarray, pruned: np.ndarray, score_name: str, ratio: float, bins: int = 60) -> go.Figure:
    """Histogram of one score, kept vs pruned stacked, with the cut marked.

    Args:
        scores: (N,) float score of every training sample.
        pruned: (P,) int indices that the pruning ratio removes.
        ratio: pruning ratio in [0, 1] (title only).
    """
    s = np.asarray(scores, dtype=np.float64)
    mask = np.zeros(s.shape[0], dtype=bool)
    mask[np.asarray(pruned, dtype=np.int64)] = True
    finite = s[np.isfinite(s)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    size = (hi - lo) / bins if hi > lo else 1.0
    xbins = {"start": lo, "end": hi + size, "size": size}
    fig = go.Figure(
        [
            go.Histogram(x=s[~mask], name=f"kept ({int((~mask).sum())})", marker_color=KEPT_COLOR, xbins=xbins),
            go.Histogram(x=s[mask], name=f"pruned ({int(mask.sum())})", marker_color=REMOVED_COLOR, xbins=xbins),
        ]
    )
    if mask.any() and (~mask).any() and score_name != "random":
        kept_vals, cut_vals = s[~mask], s[mask]
        cut = (
            (float(np.nanmax(kept_vals)) + float(np.nanmin(cut_vals))) / 2
            if np.nanmin(cut_vals) >= np.nanmax(kept_vals)
            else (float(np.nanmin(kept_vals)) + float(np.nanmax(cut_vals))) / 2
        )
        fig.add_vline(
            x=cut, line={"color": "black", "dash": "dash"}, annotation_text=f"cut {cut:.3f}", annotation_position="top"
        )
    fig.update_layout(
        barmode="stack",
        title=f"{score_name}: {ratio:.0%} pruned",
        height=340,
        xaxis_title=score_name,
        yaxis_title="samples",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return fig


def per_class_bar(classes: Sequence[str], pruned: Sequence[int], kept: Sequence[int]) -> go.Figure:
    """Stacked bar per class: pruned (red) on top of kept (grey)."""
    names = [str(c) for c in classes]
    fig = go.Figure(
        [
            go.Bar(x=names, y=list(kept), name="kept", marker_color=KEPT_COLOR),
            go.Bar(x=names, y=list(pruned), name="pruned", marker_color=REMOVED_COLOR),
        ]
    )
    fig.update_layout(
        barmode="stack",
        height=320,
        title="What goes, per class",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"type": "category"},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return fig

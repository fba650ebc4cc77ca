"""The Theory figures: the error bounds against gamma - beta, and the monitored losses per epoch
(the H-SCL paper's Fig. 5 view). Pure: figures from arrays, the monitor frame from progress.jsonl rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.figures.layout import REMOVED_COLOR

MONITOR_NAMES = {"ucl": "UCL", "hard_ucl": "H-UCL", "scl": "SCL", "hard_scl": "H-SCL"}


def bounds_vs_gap(
    gaps: np.ndarray,
    clean: float,
    difficult: np.ndarray,
    removal: float,
    threshold: float | None,
    current_gap: float | None,
) -> go.Figure:
    """Error bounds against gamma - beta: Thm 3.3 (flat), Thm 3.4 (curve), Cor 4.1 (flat).

    Args:
        gaps: (G,) gamma - beta values on the x axis.
        clean: Thm 3.3 bound (no difficult examples).
        difficult: (G,) Thm 3.4 bound at each gap.
        removal: Cor 4.1 bound (difficult examples removed).
        threshold: gap above which removal beats keeping, or None.
        current_gap: the calculator's gamma - beta, marked with a dotted line.
    """
    g = np.asarray(gaps, dtype=np.float64)
    fig = go.Figure(
        [
            go.Scatter(
                x=g,
                y=np.asarray(difficult, np.float64),
                name="keep difficult (Thm 3.4)",
                line={"color": REMOVED_COLOR, "width": 3},
            ),
            go.Scatter(
                x=g, y=np.full(g.shape, removal), name="remove them (Cor 4.1)", line={"color": "#2ca02c", "width": 3}
            ),
            go.Scatter(
                x=g,
                y=np.full(g.shape, clean),
                name="no difficult examples (Thm 3.3)",
                line={"color": "#7f7f7f", "dash": "dot"},
            ),
        ]
    )
    if threshold is not None and np.isfinite(threshold):
        fig.add_vline(
            x=threshold,
            line={"color": "black", "dash": "dash"},
            annotation_text=f"removal wins above {threshold:.4g}",
            annotation_position="top right",
        )
    if current_gap is not None:
        fig.add_vline(
            x=current_gap,
            line={"color": "#1f77b4", "dash": "dot"},
            annotation_text="γ−β now",
            annotation_position="top left",
        )
    if g.size:
        fig.update_xaxes(range=[float(g.min()), float(g.max())])
    fig.update_layout(
        title="Error bounds vs γ − β",
        xaxis_title="γ − β",
        yaxis_title="bound on downstream error",
        height=380,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def monitor_frame(progress: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per-epoch monitor losses from progress.jsonl rows: columns epoch, ucl, hard_ucl, scl, hard_scl.

    Rows without a ``"monitor"`` dict are skipped; missing values are NaN.
    """
    rows: list[dict[str, Any]] = []
    for rec in progress:
        mon = rec.get("monitor")
        if not isinstance(mon, dict):
            continue
        row = {"epoch": rec.get("epoch", len(rows))}
        for key in MONITOR_NAMES:
            val = mon.get(key)
            row[key] = float(val) if val is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["epoch", *MONITOR_NAMES])


def monitor_curves(frame: pd.DataFrame) -> go.Figure:
    """UCL / H-UCL / SCL / H-SCL per epoch (the H-SCL paper's Fig. 5 view)."""
    colors = {"ucl": "#1f77b4", "hard_ucl": "#ff7f0e", "scl": "#2ca02c", "hard_scl": "#d62728"}
    fig = go.Figure()
    for key, name in MONITOR_NAMES.items():
        if key in frame and frame[key].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=frame["epoch"],
                    y=frame[key],
                    name=name,
                    mode="lines+markers",
                    line={"color": colors[key], "dash": "dash" if key.startswith("hard") else "solid"},
                )
            )
    fig.update_layout(
        title="Monitored losses on the same batches",
        xaxis_title="epoch",
        yaxis_title="loss",
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig

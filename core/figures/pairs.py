"""The Hard pairs figures: the class x class heatmap (clickable cells) and the histogram of pair
similarities with the band shaded. Pure: every function returns a ``go.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.layout import REMOVED_COLOR


def pair_heatmap(
    matrix: np.ndarray,
    classes: Sequence[str],
    *,
    title: str,
    value_name: str,
    integer: bool = True,
    selected: tuple[int, int] | None = None,
) -> go.Figure:
    """Class x class heatmap plus an invisible scatter overlay (one point per cell).

    The overlay makes cells clickable with st.plotly_chart(on_select=...): heatmap traces do not
    emit selections, scatter points do; each overlay point's customdata is ``[row, col]``.

    Args:
        matrix: (C, C) counts or mean similarities.
        classes: C class names (rows = class A, columns = class B).
        selected: (row, col) cell to outline, or None.
    """
    m = np.asarray(matrix, dtype=np.float64)
    c = m.shape[0]
    names = [str(x) for x in classes]
    fmt = "%{z:d}" if integer else "%{z:.3f}"
    heat = go.Heatmap(
        z=m,
        x=list(range(c)),
        y=list(range(c)),
        colorscale="Reds" if integer else "Blues",
        colorbar={"title": {"text": value_name}},
        hoverinfo="skip",
        texttemplate=fmt if c <= 12 else None,
        hoverongaps=False,
    )
    rows, cols = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
    values = ["–" if not np.isfinite(v) else f"{int(v)}" if integer else f"{v:.3f}" for v in m.ravel()]
    hover = [
        f"{names[r]} \u2194 {names[k]}<br>{value_name} {v}<br>click to list these pairs"
        for r, k, v in zip(rows.ravel(), cols.ravel(), values, strict=True)
    ]
    overlay = go.Scatter(  # hover + click target: heatmaps emit no selection events
        x=cols.ravel(),
        y=rows.ravel(),
        mode="markers",
        marker={"symbol": "square", "size": max(6, min(40, 420 // max(c, 1))), "opacity": 0.01, "color": "#000000"},
        customdata=np.stack([rows.ravel(), cols.ravel()], axis=1),
        text=hover,
        hovertemplate="%{text}<extra></extra>",
        showlegend=False,
        selected={"marker": {"opacity": 0.01}},
        unselected={"marker": {"opacity": 0.01}},
    )
    fig = go.Figure([heat, overlay])
    if selected is not None:
        r, k = selected
        fig.add_shape(
            type="rect", x0=k - 0.5, x1=k + 0.5, y0=r - 0.5, y1=r + 0.5, line={"color": "#1f77b4", "width": 3}
        )
    ticks = {"tickvals": list(range(c)), "ticktext": names} if c <= 30 else {}
    fig.update_layout(
        title=title,
        height=min(720, max(420, 120 + 44 * c)) if c <= 30 else 720,
        clickmode="event+select",
        dragmode=False,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        # fixed ranges: the overlay's large markers must not pad the axes (cells fill the plot area exactly)
        xaxis={"title": "class B", "range": [-0.5, c - 0.5], **ticks},
        yaxis={"title": "class A", "range": [c - 0.5, -0.5], **ticks},
        plot_bgcolor="white",
    )
    return fig


def band_histogram(edges: np.ndarray, counts: dict[str, np.ndarray], t_lo: float, t_hi: float) -> go.Figure:
    """Histogram of pair similarities (one bar trace per entry of ``counts``) with the band shaded.

    Args:
        edges: (B+1,) bin edges. counts: name -> (B,) int counts, e.g. all pairs and cross-class pairs.
        t_lo, t_hi: the band's thresholds (Sim_posLow, Sim_posHigh); the band is t_lo <= s < t_hi.
    """
    e = np.asarray(edges, dtype=np.float64)
    centres, widths = (e[:-1] + e[1:]) / 2, np.diff(e)
    colours = ["#bbbbbb", REMOVED_COLOR, "#1f77b4"]
    fig = go.Figure(
        [
            go.Bar(x=centres, y=np.asarray(v), width=widths, name=name, marker_color=colours[n % 3], opacity=0.8)
            for n, (name, v) in enumerate(counts.items())
        ]
    )
    fig.add_vrect(
        x0=t_lo,
        x1=t_hi,
        fillcolor="#ffbf00",
        opacity=0.3,
        line_width=0,
        annotation_text=f"band {t_lo:.3f}–{t_hi:.3f}",
        annotation_position="top left",
    )
    fig.update_layout(
        barmode="overlay",
        height=320,
        title="Pair similarities, the band shaded",
        xaxis_title="cosine similarity",
        yaxis_title="pairs",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return fig

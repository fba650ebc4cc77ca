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
    upper: bool = False,
) -> go.Figure:
    """Class x class heatmap plus an invisible scatter overlay (one point per cell).

    The overlay makes cells clickable with st.plotly_chart(on_select=...): heatmap traces do not
    emit selections, scatter points do; each overlay point's customdata is ``[row, col]``.

    Args:
        matrix: (C, C) counts or mean similarities.
        classes: C class names (rows = class A, columns = class B).
        selected: (row, col) cell to outline, or None.
        upper: draw only the cells above the diagonal (row < column), the rest blank and not clickable:
            a symmetric count of unordered pairs then shows each pair once (the cells sum to the pairs).
    """
    m = np.asarray(matrix, dtype=np.float64)
    c = m.shape[0]
    if upper:
        m = np.where(np.triu(np.ones((c, c), bool), k=1), m, np.nan)
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
    keep = (rows < cols).ravel() if upper else np.ones(c * c, bool)
    rows, cols = rows.ravel()[keep], cols.ravel()[keep]
    values = ["–" if not np.isfinite(v) else f"{int(v)}" if integer else f"{v:.3f}" for v in m.ravel()[keep]]
    hover = [
        (f"{v} {value_name} between {names[r]} and {names[k]}" if integer
         else f"{value_name} between {names[r]} and {names[k]}: {v}") + "<br>click to list these pairs"
        for r, k, v in zip(rows, cols, values, strict=True)
    ]  # fmt: skip
    overlay = go.Scatter(  # hover + click target: heatmaps emit no selection events
        x=cols,
        y=rows,
        mode="markers",
        marker={"symbol": "square", "size": max(6, min(40, 420 // max(c, 1))), "opacity": 0.01, "color": "#000000"},
        customdata=np.stack([rows, cols], axis=1),
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
    short = [n if len(n) <= 24 else n[:23] + "…" for n in names]  # long names never squash the grid (full: hover)
    ticks = {"tickvals": list(range(c)), "ticktext": short} if c <= 30 else {}
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


def definitions_figure(
    edges: np.ndarray, cross: np.ndarray, t_lo: float, t_hi: float, top_cut: float | None, n_top: int
) -> go.Figure:
    """Where the two definitions of a difficult pair sit on the similarity axis: the histogram of
    cross-class pair similarities (log count axis: the top-K tail is a handful of pairs), the band
    ``Sim_posLow <= s < Sim_posHigh`` shaded, and the top-K cut (the K-th largest cross-class similarity)
    marked with everything above it shaded.

    Args:
        edges: (B+1,) bin edges. cross: (B,) int counts of cross-class pairs per bin.
        t_lo, t_hi: the band's thresholds Sim_posLow, Sim_posHigh.
        top_cut: the smallest similarity among the top-K pairs (None: no top-K pairs). n_top: K.
    """
    e = np.asarray(edges, dtype=np.float64)
    counts = np.asarray(cross, dtype=np.float64)
    fig = go.Figure(
        go.Bar(
            x=(e[:-1] + e[1:]) / 2,
            y=np.where(counts > 0, counts, np.nan),
            width=np.diff(e),
            name="cross-class pairs",
            marker_color="#1f77b4",
            hovertemplate="similarity %{x:.3f}: %{y:,} cross-class pairs<extra></extra>",
        )
    )
    fig.add_vrect(x0=t_lo, x1=t_hi, fillcolor="#ffbf00", opacity=0.35, line_width=0)
    fig.add_annotation(
        x=(t_lo + t_hi) / 2, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
        text=f"band {t_lo:.3f}–{t_hi:.3f}", font={"color": "#8a6d00"},
    )  # fmt: skip
    left, right = min(float(e[0]), t_lo), max(float(e[-1]), t_hi, top_cut if top_cut is not None else -1.0)
    pad = 0.02 * (right - left)
    if top_cut is not None:
        fig.add_vrect(x0=top_cut, x1=right, fillcolor=REMOVED_COLOR, opacity=0.2, line_width=0)
        fig.add_vline(x=top_cut, line={"color": REMOVED_COLOR, "dash": "dash", "width": 2})
        fig.add_annotation(
            x=top_cut, y=0.82, yref="paper", xanchor="right", showarrow=False, bgcolor="rgba(255,255,255,0.7)",
            text=f"top {n_top:,}: s ≥ {top_cut:.3f} ", font={"color": REMOVED_COLOR},
        )  # fmt: skip
    fig.update_layout(
        height=260,
        title={"text": "Where each definition sits on the similarity axis", "font": {"size": 14}},
        xaxis={"title": "cosine similarity of a cross-class pair", "range": [left - pad, right + pad]},
        yaxis={"title": "pairs (log)", "type": "log"},
        margin={"l": 10, "r": 10, "t": 48, "b": 10},
        showlegend=False,
        bargap=0,
    )
    return fig

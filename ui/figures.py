"""Pure plotly figure builders for the Embeddings, Hard pairs, Prune and Theory pages.

No streamlit here: every function takes arrays / frames and returns a ``go.Figure``, so the
figures are unit-tested directly. Scatter maps are ONE ``go.Scattergl`` trace whose
``customdata`` is the 1-D array of sample ids (selection payloads then carry the id as a
scalar, and ``point_indices`` stays meaningful); categorical colours use a stepped colour
scale on integer codes instead of one trace per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors as pcolors
import plotly.graph_objects as go

PALETTE = pcolors.qualitative.Plotly + pcolors.qualitative.Dark24 + pcolors.qualitative.Alphabet
KEPT_COLOR = "#9aa5b1"
REMOVED_COLOR = "#d62728"
MIXED_COLOR = "#ff7f0e"
MONITOR_NAMES = {"ucl": "UCL", "hard_ucl": "H-UCL", "scl": "SCL", "hard_scl": "H-SCL"}


def stepped_colorscale(n: int, colors: Sequence[str] | None = None) -> list[list]:
    """Discrete colour scale for integer codes ``0..n-1`` used with ``cmin=-0.5, cmax=n-0.5``.

    ``colors`` (one per code) overrides the default qualitative palette.
    """
    n = max(1, int(n))
    palette = list(colors) if colors else PALETTE
    scale: list[list] = []
    for i in range(n):
        color = palette[i % len(palette)]
        scale.append([i / n, color])
        scale.append([(i + 1) / n, color])
    return scale


def size_from_score(score: np.ndarray, lo: float = 3.0, hi: float = 12.0) -> np.ndarray:
    """Marker sizes in ``[lo, hi]`` px, linear in the min-max scaled score; NaN -> lo."""
    s = np.asarray(score, dtype=np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        return np.full(s.shape, lo)
    mn, mx = float(s[finite].min()), float(s[finite].max())
    t = np.zeros_like(s) if mx <= mn else (s - mn) / (mx - mn)
    return np.where(finite, lo + (hi - lo) * t, lo)


def map_layout(fig: go.Figure, title: str, height: int) -> None:
    """The layout every 2-D map shares: lasso by default, no axes (UMAP coordinates mean nothing), kept zoom."""
    fig.update_layout(
        title=title,
        dragmode="lasso",
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        plot_bgcolor="white",
        uirevision="map",
    )


def umap_scatter(
    ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    color: np.ndarray,
    *,
    categories: Sequence[str] | None = None,
    category_colors: Sequence[str] | None = None,
    color_title: str = "",
    hover_label: Sequence[str] | None = None,
    sizes: np.ndarray | None = None,
    title: str = "",
    height: int = 620,
) -> go.Figure:
    """One-trace WebGL map with lasso as the default tool.

    Args:
        ids: (N,) int sample ids -> ``customdata``.
        x, y: (N,) float map coordinates.
        color: (N,) numbers: integer codes into ``categories`` (categorical) or a score (continuous).
        categories: names of the codes; ``None`` means ``color`` is continuous (Viridis).
        category_colors: one colour per category (default: the qualitative palette).
        color_title: colour bar title (e.g. the score name).
        hover_label: (N,) short strings shown on hover (class name), or None.
        sizes: (N,) marker sizes in px, or None for a constant size.
        title: figure title.
        height: figure height in px.
    """
    ids = np.asarray(ids).astype(np.int32)  # compact JSON (base64 typed arrays) at 50k points
    color = np.asarray(color, dtype=np.float32)
    marker: dict = {
        "color": color,
        "size": 5 if sizes is None else np.asarray(sizes, np.float32),
        "opacity": 0.8,
        "line": {"width": 0},
    }
    if categories is not None:
        k = len(categories)
        bar: dict = {"title": {"text": color_title}, "len": min(1.0, 0.1 + 0.09 * k)}
        if k <= 30:
            bar.update(tickvals=list(range(k)), ticktext=[str(c) for c in categories])
        marker.update(
            colorscale=stepped_colorscale(k, category_colors), cmin=-0.5, cmax=k - 0.5, colorbar=bar, showscale=True
        )
        value_line = ""
    else:
        marker.update(colorscale="Viridis", colorbar={"title": {"text": color_title}}, showscale=True)
        value_line = f"<br>{color_title} %{{marker.color:.3f}}" if color_title else ""
    trace = go.Scattergl(
        x=np.asarray(x, dtype=np.float32),
        y=np.asarray(y, dtype=np.float32),
        mode="markers",
        customdata=ids,
        marker=marker,
        text=None if hover_label is None else np.asarray(hover_label, dtype=object),
        hovertemplate="#%{customdata}"
        + ("<br>%{text}" if hover_label is not None else "")
        + value_line
        + "<extra></extra>",
        showlegend=False,
    )
    fig = go.Figure(trace)
    map_layout(fig, title, height)
    return fig


def parent_child_figures(
    maps: pd.DataFrame, labels: np.ndarray, classes: Sequence[str], height: int = 480
) -> tuple[go.Figure, go.Figure]:
    """Parent map with removed points marked, and the pruned child's map of its kept points.

    Args:
        maps: frame with columns index, x_parent, y_parent, x_child, y_child, kept (bool).
        labels: (N,) int class of every sample id (indexed by ``maps["index"]``).
        classes: class names.
    """
    order = np.argsort(~maps["kept"].to_numpy(bool), kind="stable")  # removed drawn last (on top)
    maps = maps.iloc[order]
    ids = maps["index"].to_numpy(np.int64)
    kept = maps["kept"].to_numpy(bool)
    flag = np.where(kept, 0, 1)
    parent = umap_scatter(
        ids,
        maps["x_parent"],
        maps["y_parent"],
        flag,
        categories=["kept", "removed"],
        category_colors=[KEPT_COLOR, REMOVED_COLOR],
        color_title="",
        hover_label=[str(classes[int(c)]) for c in np.asarray(labels)[ids]],
        sizes=np.where(kept, 4.0, 5.5),
        title=f"Parent map: {int((~kept).sum())} removed points in red",
        height=height,
    )
    k_ids = ids[kept]
    k_lab = np.asarray(labels)[k_ids]
    child = umap_scatter(
        k_ids,
        maps["x_child"].to_numpy()[kept],
        maps["y_child"].to_numpy()[kept],
        k_lab,
        categories=list(classes),
        color_title="class",
        hover_label=[str(classes[int(c)]) for c in k_lab],
        title=f"Pruned run's map: {int(kept.sum())} kept points",
        height=height,
    )
    return parent, child


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


def monitor_frame(progress: Sequence[dict]) -> pd.DataFrame:
    """Per-epoch monitor losses from progress.jsonl rows: columns epoch, ucl, hard_ucl, scl, hard_scl.

    Rows without a ``"monitor"`` dict are skipped; missing values are NaN.
    """
    rows = []
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

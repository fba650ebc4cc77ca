"""The maps: the Embeddings page's map at any size (a drawn sample over a density layer, classes as
legend entries), the one-trace map of selectable points, and the Prune page's parent/child maps.

Scatter maps carry the 1-D array of sample ids as ``customdata`` (selection payloads then carry the id
as a scalar, and ``point_indices`` stays meaningful). Pure: every function returns a ``go.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.figures.layout import KEPT_COLOR, PALETTE, REMOVED_COLOR, map_layout, stepped_colorscale


def size_from_score(score: np.ndarray, lo: float = 3.0, hi: float = 12.0) -> np.ndarray:
    """Marker sizes in ``[lo, hi]`` px, linear in the min-max scaled score; NaN -> lo."""
    s = np.asarray(score, dtype=np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        return np.full(s.shape, lo)
    mn, mx = float(s[finite].min()), float(s[finite].max())
    t = np.zeros_like(s) if mx <= mn else (s - mn) / (mx - mn)
    return np.where(finite, lo + (hi - lo) * t, lo)


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
    marker: dict[str, Any] = {
        "color": color,
        "size": 5 if sizes is None else np.asarray(sizes, np.float32),
        "opacity": 0.8,
        "line": {"width": 0},
    }
    if categories is not None:
        k = len(categories)
        bar: dict[str, Any] = {"title": {"text": color_title}, "len": min(1.0, 0.1 + 0.09 * k)}
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
    """Parent map with removed points marked, and the pruned child's map of its kept points coloured by class
    with the parent's discrete class colours (:data:`core.figures.layout.PALETTE`, a legend, no colour bar).

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
    parent = map_figure(
        ids,
        maps["x_parent"].to_numpy(),
        maps["y_parent"].to_numpy(),
        flag,
        categories=["kept", "removed"],
        category_colors=[KEPT_COLOR, REMOVED_COLOR],
        color_title="kept / removed",
        hover_label=[str(classes[int(c)]) for c in np.asarray(labels)[ids]],
        sizes=np.where(kept, 4.0, 5.5),
        title=f"Parent map: {int((~kept).sum())} removed points in red",
        height=height,
    )
    k_ids = ids[kept]
    k_lab = np.asarray(labels)[k_ids]
    child = map_figure(
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


def _layout(fig: go.Figure, title: str, height: int, legend_title: str) -> None:
    map_layout(fig, title, height)
    fig.update_layout(legend={"itemsizing": "constant", "title": {"text": legend_title}})


def map_figure(
    ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    color: np.ndarray,
    *,
    categories: Sequence[str] | None,
    category_colors: Sequence[str] | None = None,
    color_title: str = "class",
    hover_label: Sequence[str] | None = None,
    sizes: np.ndarray | None = None,
    density_layer: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    title: str = "",
    height: int = 620,
) -> go.Figure:
    """Map of the drawn points (one WebGL trace per category, or one with a colour bar) over a density layer.

    Args:
        ids, x, y, color: (n,) drawn points: sample ids (customdata), coordinates, category codes
            into ``categories`` or a continuous score (``categories`` None).
        category_colors: one colour per category (default: the class palette, ``layout.PALETTE``).
        color_title: what the colour shows: the legend's title (categories) or the colour bar's (a score).
        hover_label: (n,) strings (class names). sizes: (n,) px or None.
        density_layer: ``ui.views.embedview.density`` of ALL points, or None.
    """
    fig = go.Figure()
    if density_layer is not None:
        z, xc, yc = density_layer
        fig.add_trace(
            go.Heatmap(
                z=z, x=xc, y=yc, colorscale="Greys", showscale=False, hoverinfo="skip", opacity=0.5, name="density"
            )
        )
    xy = np.asarray(x, np.float32), np.asarray(y, np.float32)
    text = None if hover_label is None else np.asarray(hover_label, dtype=object)
    hover = "#%{customdata}" + ("<br>%{text}" if text is not None else "")

    def points(rows: np.ndarray, marker: dict[str, Any]) -> dict[str, Any]:
        """The trace arguments of the drawn points ``rows`` (marker opacity and size filled in)."""
        size = 5 if sizes is None else np.asarray(sizes, np.float32)[rows]
        return {
            "x": xy[0][rows],
            "y": xy[1][rows],
            "mode": "markers",
            "customdata": np.asarray(ids).astype(np.int32)[rows],
            "text": None if text is None else text[rows],
            "marker": {"size": size, "opacity": 0.8, "line": {"width": 0}, **marker},
        }

    if categories is not None:
        palette = list(category_colors or PALETTE)
        codes = np.asarray(color).astype(np.int64)
        for c, name in enumerate(categories):
            rows = np.flatnonzero(codes == c)
            if len(rows):
                spec = points(rows, {"color": palette[c % len(palette)]})
                fig.add_trace(go.Scattergl(**spec, name=str(name), hovertemplate=hover + "<extra></extra>"))
    else:
        bar = {"colorscale": "Viridis", "colorbar": {"title": {"text": color_title}}, "showscale": True}
        spec = points(np.arange(len(xy[0])), {"color": np.asarray(color, np.float32), **bar})
        value = f"<br>{color_title} %{{marker.color:.3f}}<extra></extra>"
        fig.add_trace(go.Scattergl(**spec, hovertemplate=hover + value, showlegend=False))
    _layout(fig, title, height, f"{color_title} (click to hide)" if categories is not None else "")
    return fig


def mark_sample(fig: go.Figure, x: float, y: float, sid: int) -> None:
    """Highlight sample ``sid`` at (``x``, ``y``) on a map: a large star above every point, named in the legend
    (the sample view's "Show it on the map", ``?sample=``)."""
    fig.add_trace(
        go.Scatter(
            x=[x],
            y=[y],
            mode="markers",
            customdata=[int(sid)],
            marker={"symbol": "star", "size": 22, "color": "#ffd400", "line": {"width": 2, "color": "#000000"}},
            name=f"sample #{int(sid)}",
            hovertemplate=f"#{int(sid)} (the sample view's sample)<extra></extra>",
        )
    )

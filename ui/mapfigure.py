"""The Embeddings page's map figure at any size: a density layer of all points under a bounded,
drawn sample; classes as legend entries (click one to hide it), scores as a colour bar.

Pure (no Streamlit calls): ``map_figure`` returns a ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures import map_layout

QUALITATIVE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def _layout(fig: go.Figure, title: str, height: int) -> None:
    map_layout(fig, title, height)
    fig.update_layout(legend={"itemsizing": "constant", "title": {"text": "class (click to hide)"}})


def map_figure(
    ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    color: np.ndarray,
    *,
    categories: Sequence[str] | None,
    category_colors: Sequence[str] | None = None,
    color_title: str = "",
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
    ids = np.asarray(ids).astype(np.int32)
    text = None if hover_label is None else np.asarray(hover_label, dtype=object)
    size = 5 if sizes is None else np.asarray(sizes, np.float32)
    hover = "#%{customdata}" + ("<br>%{text}" if text is not None else "")
    if categories is not None:
        palette = list(category_colors or QUALITATIVE)
        codes = np.asarray(color).astype(np.int64)
        for c, name in enumerate(categories):
            rows = np.flatnonzero(codes == c)
            if not len(rows):
                continue
            fig.add_trace(
                go.Scattergl(
                    x=np.asarray(x, np.float32)[rows],
                    y=np.asarray(y, np.float32)[rows],
                    mode="markers",
                    name=str(name),
                    customdata=ids[rows],
                    text=None if text is None else text[rows],
                    marker={
                        "color": palette[c % len(palette)],
                        "size": size if np.isscalar(size) else size[rows],
                        "opacity": 0.8,
                        "line": {"width": 0},
                    },
                    hovertemplate=hover + "<extra></extra>",
                )
            )
    else:
        fig.add_trace(
            go.Scattergl(
                x=np.asarray(x, np.float32),
                y=np.asarray(y, np.float32),
                mode="markers",
                customdata=ids,
                text=text,
                marker={
                    "color": np.asarray(color, np.float32),
                    "size": size,
                    "opacity": 0.8,
                    "line": {"width": 0},
                    "colorscale": "Viridis",
                    "colorbar": {"title": {"text": color_title}},
                    "showscale": True,
                },
                hovertemplate=hover + f"<br>{color_title} %{{marker.color:.3f}}<extra></extra>",
                showlegend=False,
            )
        )
    _layout(fig, title, height)
    return fig

"""What every figure shares: the colours, the layout of a 2-D map, and the configuration a printed figure uses.

- :data:`PALETTE` -- THE categorical palette: class ``c`` has colour ``PALETTE[c % len(PALETTE)]`` on every map
  (Embeddings, a pruned child's map, the report), its first ten the D3 category-10 colours (:data:`QUALITATIVE`);
  :func:`stepped_colorscale` -- the same colours as a stepped scale over integer codes.
- :func:`map_layout` -- lasso by default, no axes (map coordinates mean nothing), zoom kept across reruns, the
  title above the plot and below the toolbar, the background left to the theme (light or dark).
- :data:`PRINT_CONFIG`, :func:`printable` -- a figure for a page that is printed (the HTML/PDF report):
  no toolbar, SVG traces instead of WebGL ones (a PDF printer may have no WebGL).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.colors as pcolors
import plotly.graph_objects as go

#: The first ten classes' colours (D3 category 10).
QUALITATIVE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
_MORE = pcolors.qualitative.Dark24 + pcolors.qualitative.Alphabet
PALETTE: list[str] = list(QUALITATIVE) + [c for c in _MORE if c.lower() not in QUALITATIVE]
KEPT_COLOR = "#9aa5b1"
REMOVED_COLOR = "#d62728"
MIXED_COLOR = "#ff7f0e"
#: plotly.js config of a figure in a page that may be printed (the HTML/PDF report): no toolbar (modebar),
#: so none is printed; hover and zoom still work on screen, and the figure follows its box's width.
PRINT_CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
#: WebGL trace types and their SVG twins (same attributes for what the figures use).
_SVG_TWIN = {"scattergl": go.Scatter}


def stepped_colorscale(n: int, colors: Sequence[str] | None = None) -> list[list[object]]:
    """Discrete colour scale for integer codes ``0..n-1`` used with ``cmin=-0.5, cmax=n-0.5``.

    ``colors`` (one per code) overrides the default qualitative palette.
    """
    n = max(1, int(n))
    palette = list(colors) if colors else PALETTE
    scale: list[list[object]] = []
    for i in range(n):
        color = palette[i % len(palette)]
        scale.append([i / n, color])
        scale.append([(i + 1) / n, color])
    return scale


def class_colors(n: int) -> list[str]:
    """The colours of classes ``0..n-1`` (:data:`PALETTE`, repeating beyond its length)."""
    return [PALETTE[i % len(PALETTE)] for i in range(max(0, int(n)))]


def map_layout(fig: go.Figure, title: str, height: int) -> None:
    """The layout every 2-D map shares: lasso by default, no axes (UMAP coordinates mean nothing), kept zoom.

    The title sits just above the plot area, under the top margin where plotly draws its toolbar, so the two
    never overlap; no background colour is set, so Streamlit's light or dark template decides it.
    """
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "xref": "paper", "y": 1.0, "yref": "paper"}
        | {"yanchor": "bottom", "pad": {"b": 6}, "font": {"size": 14}},
        dragmode="lasso",
        height=height,
        margin={"l": 10, "r": 10, "t": 64 if title else 36, "b": 10},
        xaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        uirevision="map",
    )


def printable(fig: go.Figure) -> go.Figure:
    """``fig`` with its WebGL traces as SVG traces with the same data (vector output in a PDF, and no
    dependence on the printer's WebGL): a copy when it has any, else ``fig`` itself. The layout is unchanged."""
    if not any(trace.type in _SVG_TWIN for trace in fig.data):
        return fig
    traces = []
    for trace in fig.data:
        twin = _SVG_TWIN.get(trace.type)
        if twin is None:
            traces.append(trace)
            continue
        spec = trace.to_plotly_json()
        spec.pop("type", None)
        traces.append(twin(spec))
    return go.Figure(traces, layout=fig.layout)

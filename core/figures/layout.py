"""What every figure shares: the colours, the layout of a 2-D map, and the configuration a printed figure uses.

- :data:`PALETTE`, :func:`stepped_colorscale` -- categorical colours (a stepped scale over integer codes).
- :func:`map_layout` -- lasso by default, no axes (map coordinates mean nothing), zoom kept across reruns.
- :data:`PRINT_CONFIG`, :func:`printable` -- a figure for a page that is printed (the HTML/PDF report):
  no toolbar, SVG traces instead of WebGL ones (a PDF printer may have no WebGL).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.colors as pcolors
import plotly.graph_objects as go

PALETTE = pcolors.qualitative.Plotly + pcolors.qualitative.Dark24 + pcolors.qualitative.Alphabet
#: Ten classes' colours of the Embeddings map's legend (D3 category 10).
QUALITATIVE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
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

"""Static figures for the reviewer report as inline SVG (no matplotlib, no JavaScript, prints to PDF).

- :func:`scatter_svg` -- the embedding map: one dot per sample, coloured by class, with a legend.
- :func:`heatmap_svg` -- the class x class matrix of difficult-pair counts, each cell labelled.

Both return an ``<svg>`` string whose ``viewBox`` scales to the width of its box (``width:100%``),
so a figure never makes the page scroll sideways.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

#: Ten distinguishable colours (Tableau 10); classes beyond ten reuse them.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def _esc(text: object) -> str:
    return html.escape(str(text))


def _scale(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``v`` (K,) float linearly onto [lo, hi] (a constant array maps to the middle)."""
    vmin, vmax = float(np.min(v)), float(np.max(v))
    if vmax - vmin < 1e-12:
        return np.full(v.shape, (lo + hi) / 2)
    return lo + (v - vmin) / (vmax - vmin) * (hi - lo)


def scatter_svg(
    x: np.ndarray, y: np.ndarray, labels: np.ndarray, classes: Sequence[str], *, width: int = 640, height: int = 460
) -> str:
    """Scatter of (N,) float ``x``, ``y`` coloured by (N,) int ``labels`` (names ``classes``), legend on the right.

    Points are drawn in a seeded random order so no class hides the others.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    labels = np.asarray(labels, np.int64)
    legend_w = 120
    px = _scale(x, 10, width - legend_w - 10)
    py = _scale(-y, 10, height - 10)
    order = np.random.default_rng(0).permutation(len(x))
    dots = "".join(
        f"<circle cx='{px[i]:.1f}' cy='{py[i]:.1f}' r='2.2' fill='{PALETTE[labels[i] % len(PALETTE)]}'/>" for i in order
    )
    present = sorted(set(labels.tolist()))
    legend = "".join(
        f"<circle cx='{width - legend_w + 12}' cy='{18 + 18 * k}' r='5' fill='{PALETTE[c % len(PALETTE)]}'/>"
        f"<text x='{width - legend_w + 24}' y='{22 + 18 * k}' font-size='12'>"
        f"{_esc(classes[c] if 0 <= c < len(classes) else c)}</text>"
        for k, c in enumerate(present)
    )
    return (
        f"<svg class='fig' viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg' role='img'"
        f" aria-label='embedding map, {len(x)} samples'><rect width='100%' height='100%' fill='#fff'/>"
        f"<g fill-opacity='0.75'>{dots}</g>{legend}</svg>"
    )


def _cell_colour(value: float, vmax: float) -> str:
    """White (0) to dark red (vmax)."""
    t = 0.0 if vmax <= 0 else min(1.0, max(0.0, value / vmax))
    r, g, b = 255 - int(t * 75), 255 - int(t * 215), 255 - int(t * 215)
    return f"rgb({r},{g},{b})"


def heatmap_svg(matrix: np.ndarray, classes: Sequence[str], *, cell: int = 0, max_width: int = 640) -> str:
    """Heatmap of a (C, C) matrix (rows and columns in ``classes`` order), every cell labelled with its value."""
    mat = np.asarray(matrix, np.float64)
    c = mat.shape[0]
    size = cell or max(12, min(56, (max_width - 90) // max(c, 1)))
    left, top = 90, 20
    vmax = float(np.nanmax(mat)) if mat.size else 0.0
    font = max(7, min(12, size // 3))
    cells = []
    for i in range(c):
        for j in range(c):
            v = mat[i, j]
            dark = vmax > 0 and v / vmax > 0.6
            cells.append(
                f"<rect x='{left + j * size}' y='{top + i * size}' width='{size}' height='{size}' "
                f"fill='{_cell_colour(v, vmax)}' stroke='#ddd'/>"
                f"<text x='{left + j * size + size / 2}' y='{top + i * size + size / 2 + font / 3}' font-size='{font}'"
                f" text-anchor='middle' fill='{'#fff' if dark else '#222'}'>{v:g}</text>"
            )
    names = [_esc(classes[k] if k < len(classes) else k)[:12] for k in range(c)]
    rows = "".join(
        f"<text x='{left - 6}' y='{top + k * size + size / 2 + 4}' font-size='11' text-anchor='end'>{n}</text>"
        for k, n in enumerate(names)
    )
    cols = "".join(
        f"<text x='{left + k * size + size / 2}' y='{top - 6}' font-size='11' text-anchor='middle'>{n}</text>"
        for k, n in enumerate(names)
    )
    w, h = left + c * size + 10, top + c * size + 10
    return (
        f"<svg class='fig' viewBox='0 0 {w} {h}' style='max-width:{w}px' xmlns='http://www.w3.org/2000/svg' "
        f"role='img' aria-label='class-pair heatmap'>{rows}{cols}{''.join(cells)}</svg>"
    )

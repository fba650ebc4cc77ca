"""What the Embeddings page draws: colour options, the colour of each point, the selected images' order.

Pure functions (no Streamlit calls) over scores.csv, the map's sample ids and the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.data.thumbs import caption
from core.figures.layout import KEPT_COLOR, MIXED_COLOR, REMOVED_COLOR
from ui.views.scoreview import by_index, score_columns

KEPT_PRUNED = "kept / pruned"
GROUND_TRUTH = "ground truth"
TAG_PREFIX = "tag:"
TRUTH_COLOR = "#d62728"
TAG_COLOR = "#7048e8"
COLOUR_HELP = (
    "class: each class its colour (the same on every map). A score: darker = easier, yellow = more difficult. "
    "mixed / ground truth: the truly bad samples (Mixed-ω images, flipped labels or a tag chosen as ground truth) "
    "in red. tag:NAME: the samples you tagged NAME. kept / pruned: what a pruned run trained on."
)
SIZE_HELP = "constant, or a score: the more difficult a sample by that score, the larger its point."
GRID_CAP = 5_000  # selected images the grid lists (the highest-scored ones when ranked)
STALE_MAP = (
    "The map is older than the run's features (the run was trained further or re-extracted); "
    "recompute it with the command above."
)


def map_staleness(features_mtime: float | None, meta: Mapping[str, Any]) -> str:
    """STALE_MAP when features.npz (mtime in s; None when missing) is newer than the map's ``created``."""
    created = meta.get("created")
    if features_mtime is not None and created and features_mtime > float(created):
        return STALE_MAP
    return ""


def colour_options(
    scores: pd.DataFrame | None, has_keep: bool, truth: bool = False, tags: Sequence[str] = ()
) -> list[str]:
    """ "Colour by" choices: class, each score, mixed (if scores.csv has it), ground truth (when the run has one),
    ``tag:NAME`` per tag, kept / pruned (a pruned run)."""
    opts = ["class", *score_columns(scores)]
    if scores is not None and "mixed" in scores.columns:
        opts.append("mixed")
    if truth:
        opts.append(GROUND_TRUTH)
    opts += [f"{TAG_PREFIX}{t}" for t in tags]
    if has_keep:
        opts.append(KEPT_PRUNED)
    return opts


def point_labels(ids: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """(len(ids),) int64 label of each map point; zeros when the labels do not cover every id."""
    ids = np.asarray(ids, np.int64)
    if labels is not None and ids.size and labels.shape[0] > ids.max():
        return np.asarray(labels[ids], np.int64)
    return np.zeros_like(ids)


def class_text(
    labels: Sequence[int], names: Sequence[str], marked: Sequence[bool] | None = None, badge: str = ""
) -> list[str]:
    """Class name per label ("?" outside ``names``), `` · <badge>`` appended where ``marked`` (ground truth)."""
    text = [names[int(c)] if 0 <= int(c) < len(names) else "?" for c in labels]
    if marked is None:
        return text
    return [f"{t} · {badge}" if m else t for t, m in zip(text, marked, strict=True)]


@dataclass(frozen=True)
class Colouring:
    """Marker colours of the map: values (N,), categories (None = continuous), title, category colours."""

    color: np.ndarray
    categories: list[str] | None
    title: str
    category_colors: list[str] | None
    score: str | None  # the score being shown (captions rank by it), None for categories


def colouring(
    colour: str,
    ids: np.ndarray,
    point_label: np.ndarray,
    names: Sequence[str],
    scores: pd.DataFrame | None,
    keep: np.ndarray | None,
    truth: tuple[np.ndarray, str] | None = None,
    tagged: np.ndarray | None = None,
) -> Colouring:
    """The colour of each point for a "Colour by" choice (see :func:`colour_options`).

    ``truth``: (mask (N,) bool by sample id, badge word) for ``ground truth``; ``tagged``: the ids of the
    ``tag:NAME`` chosen. Categorical choices are titled by what they show (the legend's title).
    """
    if colour == "class":
        return Colouring(point_label, list(names), "class", None, None)
    if colour == GROUND_TRUTH and truth is not None:
        mask, badge = truth
        inside = np.asarray(ids, np.int64) < len(mask)
        codes = np.where(inside, mask[np.minimum(ids, len(mask) - 1)], False).astype(np.int64)
        return Colouring(codes, ["other", badge], f"ground truth ({badge})", [KEPT_COLOR, TRUTH_COLOR], None)
    if colour.startswith(TAG_PREFIX):
        name = colour[len(TAG_PREFIX) :]
        codes = np.isin(ids, tagged if tagged is not None else []).astype(np.int64)
        return Colouring(codes, ["not tagged", name], f"tag {name}", [KEPT_COLOR, TAG_COLOR], None)
    if colour == "mixed":
        assert scores is not None
        return Colouring(by_index(scores, "mixed", ids), ["clean", "mixed"], "mixed", [KEPT_COLOR, MIXED_COLOR], None)
    if colour == KEPT_PRUNED:
        kept = np.isin(ids, keep if keep is not None else [])
        return Colouring(np.where(kept, 0, 1), ["kept", "pruned"], KEPT_PRUNED, [KEPT_COLOR, REMOVED_COLOR], None)
    assert scores is not None
    return Colouring(by_index(scores, colour, ids), None, colour, None, colour)


@dataclass(frozen=True)
class GridItems:
    """The images the grid lists, in display order: ids, captions, class names; how many selected ids
    were dropped (outside the dataset); how many valid ids were selected in all (the grid lists at most
    ``GRID_CAP``); the score in the captions (or None) and whether the order follows it."""

    ids: list[int]
    captions: list[str]
    classes: list[str]
    dropped: int
    n_selected: int
    score: str | None
    ranked: bool

    def summary(self) -> str:
        """``3 selected (4: 2, 7: 1). Captions: id · class · band (highest band first).`` When the grid
        lists fewer than were selected it says which: ``the 5,000 highest-band of 555,083 selected ...``."""
        counts = pd.Series(self.classes, dtype=object).value_counts()
        legend = f"id · class · {self.score}" if self.score else "id · class"
        if self.ranked:
            legend += f" (highest {self.score} first)"
        by_class = ", ".join(f"{k}: {v}" for k, v in counts.items())
        if len(self.ids) < self.n_selected:
            which = f"highest-{self.score}" if self.ranked else "first (in selection order)"
            head = f"The grid lists the {len(self.ids):,} {which} of {self.n_selected:,} selected ({by_class} of them)"
        else:
            head = f"{len(self.ids):,} selected ({by_class})"
        return f"{head}. Captions: {legend}."


def grid_items(
    selected: Sequence[int] | np.ndarray,
    n_images: int,
    scores: pd.DataFrame | None,
    labels: np.ndarray | None,
    names: Sequence[str],
    score_name: str | None,
    cap: int = GRID_CAP,
) -> GridItems:
    """Selected ids -> the grid: ids outside the dataset dropped; ranked by ``score_name`` (highest
    first, over the WHOLE selection) when the user coloured/sized by it, else in selection order with
    ``band`` captions; then at most ``cap`` of them."""
    ids = np.asarray(selected, np.int64).ravel()
    valid = ids[(ids >= 0) & (ids < n_images)]
    ranked = score_name is not None
    if score_name is None and scores is not None and "band" in scores.columns:
        score_name = "band"
    values = by_index(scores, score_name, valid) if score_name and scores is not None else None
    if ranked and values is not None:
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:cap]
    else:
        order = np.arange(min(cap, len(valid)))
    shown = valid[order]
    shown_values: list[Any] = values[order].tolist() if values is not None else [None] * len(shown)
    lab = np.full(len(shown), -1, np.int64)
    if labels is not None:
        inside = shown < len(labels)
        lab[inside] = labels[shown[inside]]
    classes = [names[c] if 0 <= c < len(names) else "?" for c in lab.tolist()]
    captions = [caption(i, c, v) for i, c, v in zip(shown.tolist(), classes, shown_values, strict=True)]
    return GridItems(shown.tolist(), captions, classes, len(ids) - len(valid), len(valid), score_name, ranked)


# ---------------------------------------------------------------------------------------------
# A map of a million points: a bounded drawn sample over a density layer, selections over ALL points.

MAX_DRAWN = 30_000  # points drawn as WebGL markers; the rest are in the density layer only (BENCHMARKS.md: 50k
# drawn made lasso release -> grid 1.2-2.0 s at 1M and the lasso gesture itself 10-13 s in software WebGL)
DENSITY_BINS = 200
PAGE_DESCRIPTION = (
    "Each point is one training image, placed by a 2-D UMAP of the run's pre-projector features: "
    "images the encoder finds similar lie close together. Colour by class to see which classes "
    "mix, or by a difficulty score to see where the difficult samples sit. Draw a lasso (the "
    "default tool) or a box to see the images inside it below."
)


def points_in_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd (ray casting) test of every point against a closed polygon, vectorised over points.

    Args:
        x, y: (N,) point coordinates. px, py: (V,) polygon vertices (closed implicitly).

    Returns:
        (N,) bool, True inside (points on an edge may fall either way, as in matplotlib.path).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    px = np.asarray(px, np.float64)
    py = np.asarray(py, np.float64)
    inside = np.zeros(len(x), bool)
    if len(px) < 3:
        return inside
    box = (x >= px.min()) & (x <= px.max()) & (y >= py.min()) & (y <= py.max())  # only these can be inside
    cand = np.flatnonzero(box)
    cand = cand[np.argsort(y[cand], kind="stable")]  # sorted by y: each edge touches only its y band
    xc, yc = x[cand], y[cand]
    hit = np.zeros(len(cand), bool)
    x2, y2 = np.roll(px, 1), np.roll(py, 1)
    for xa, ya, xb, yb in zip(px, py, x2, y2, strict=True):
        if ya == yb:
            continue  # a horizontal edge never crosses the ray
        lo, hi = np.searchsorted(yc, min(ya, yb), "left"), np.searchsorted(yc, max(ya, yb), "left")
        band = slice(lo, hi)  # points with min <= y < max: exactly those with (ya > y) != (yb > y)
        x_at = xa + (yc[band] - ya) * (xb - xa) / (yb - ya)
        hit[band] ^= xc[band] < x_at
    inside[cand] = hit
    return inside


def ids_in_regions(
    regions: Sequence[tuple[str, Sequence[float], Sequence[float]]], ids: np.ndarray, x: np.ndarray, y: np.ndarray
) -> list[int] | None:
    """Sample ids of ALL map points inside any lasso polygon or box (None when there is no region).

    Args:
        regions: ``ui.views.selection.selection_regions`` output. ids, x, y: (N,) every map point.
    """
    if not regions:
        return None
    mask = np.zeros(len(ids), bool)
    for kind, xs, ys in regions:
        if kind == "box":
            mask |= (x >= min(xs)) & (x <= max(xs)) & (y >= min(ys)) & (y <= max(ys))
        else:
            mask |= points_in_polygon(x, y, np.asarray(xs), np.asarray(ys))
    return np.asarray(ids, np.int64)[mask].tolist()


def drawn_rows(n: int, max_points: int = MAX_DRAWN, seed: int = 0) -> np.ndarray:
    """Sorted row numbers of the points drawn as markers: all when n <= max_points, else a seeded
    sample of ``max_points`` rows.

    The sample does not depend on the selection, so the figure is the same bytes before and after
    a lasso and the browser keeps the chart instead of redrawing it: at 1M points, drawing a sample
    that included the selected points made lasso release -> grid take 3.1-4.5 s (software WebGL);
    see BENCHMARKS.md. Drawing every selected point (hundreds of thousands) took 5-12 s.
    """
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def density(x: np.ndarray, y: np.ndarray, bins: int = DENSITY_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D histogram of all points for the density layer: (log1p counts (bins, bins) float32 indexed
    [y, x], x bin centres (bins,), y bin centres (bins,)); empty cells are NaN (drawn transparent)."""
    h, xe, ye = np.histogram2d(np.asarray(x, np.float64), np.asarray(y, np.float64), bins=bins)
    z = np.log1p(h.T).astype(np.float32)
    z[z == 0] = np.nan
    return z, ((xe[:-1] + xe[1:]) / 2).astype(np.float32), ((ye[:-1] + ye[1:]) / 2).astype(np.float32)


def map_title(run_name: str, n_points: int, keep: np.ndarray | None) -> str:
    """Figure title: a pruned run states how many samples it trained on (keep.npy), not the dataset size."""
    if keep is not None:
        return f"{run_name}: trained on {len(keep):,} of {n_points:,} samples (keep.npy); all {n_points:,} mapped"
    return f"{run_name}: {n_points:,} training samples"


def drawn_note(n: int, n_drawn: int) -> str:
    """Caption stating what is drawn ("" when every point is drawn)."""
    if n_drawn >= n:
        return ""
    return (
        f"Showing {n_drawn:,} of {n:,} points as markers (a seeded random sample, the same on every "
        "visit); the grey layer underneath is the density of all points. A lasso or box selects from "
        "all points, drawn or not: the count above the grid is the true one."
    )

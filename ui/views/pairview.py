"""What the Hard pairs page shows: the pairs of the chosen classes, a gallery page, heatmap clicks.

Pure functions (no Streamlit calls) over pairs.csv / pairs_band.csv (i, j, label_i, label_j,
similarity) and class_pairs.npz. One definition per view: the heatmap counts (``cell_counts``) the
very frame the gallery lists (``filter_pairs`` + ``orient_pairs``), so a cell and its list never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.pairs import pair_counts
from core.audit.groundtruth import pair_truth

ANY = "any class"

#: The two definitions of a difficult pair the page offers: URL value -> radio label.
DEFINITIONS = {
    "top": "Top K: the most similar cross-class pairs",
    "band": "Band: the paper's Eq. 12 similarity band",
}
#: The pair file of each definition (written by ``python -m core pairs``).
DEFINITION_FILES = {"top": "pairs.csv", "band": "pairs_band.csv"}


def filter_pairs(pairs: pd.DataFrame, a: int | None, b: int | None) -> pd.DataFrame:
    """Pairs touching class ``a`` (and ``b``, in either order), hardest (most similar) first."""
    li, lj = pairs["label_i"].to_numpy(), pairs["label_j"].to_numpy()
    keep = np.ones(len(pairs), dtype=bool)
    if a is not None and b is not None:
        keep = ((li == a) & (lj == b)) | ((li == b) & (lj == a))
    elif a is not None or b is not None:
        c = a if a is not None else b
        keep = (li == c) | (lj == c)
    return pairs[keep].sort_values("similarity", ascending=False, kind="stable")


def class_index(choice: str, names: Sequence[str]) -> int | None:
    """A class picker's choice as a class id (None for ``ANY``)."""
    return None if choice == ANY else list(names).index(choice)


def picked_cell(cells: Sequence[tuple[int, int]], names: Sequence[str]) -> tuple[str, str] | None:
    """The (class A, class B) names of the last clicked heatmap cell; None when there is no valid cell."""
    if not cells:
        return None
    row, col = cells[-1]
    if 0 <= row < len(names) and 0 <= col < len(names):
        return names[row], names[col]
    return None


def mean_without_diagonal(mean: np.ndarray) -> np.ndarray:
    """(C, C) float64 copy of the mean similarities with NaN on the diagonal (same-class means would
    swamp the colour scale; the cached array is shared and never written)."""
    out = np.array(mean, dtype=np.float64)
    np.fill_diagonal(out, np.nan)
    return out


def pair_table(rows: pd.DataFrame, start: int, names: Sequence[str], thumbs: Any, truth: Any = None) -> pd.DataFrame:
    """One gallery page: rank (from ``start + 1``), both images as data URLs, similarity (4 decimals),
    both class names and ids. ``thumbs`` has ``data_urls(ids) -> list[str]`` (ThumbnailCache)."""
    return pd.DataFrame(
        {
            "rank": np.arange(start + 1, start + len(rows) + 1),
            "image A": thumbs.data_urls(rows["i"].astype(int).tolist()),
            "image B": thumbs.data_urls(rows["j"].astype(int).tolist()),
            "similarity": rows["similarity"].astype(float).round(4).to_numpy(),
            "label A": [names[int(c)] for c in rows["label_i"]],
            "label B": [names[int(c)] for c in rows["label_j"]],
            "ids": [f"#{int(i)} / #{int(j)}" for i, j in zip(rows["i"], rows["j"], strict=True)],
            **pair_truth(rows["i"].astype(int), rows["j"].astype(int), truth),  # (mask, source) -> "A mixed" ...
        }
    )


def cell_counts(pairs: pd.DataFrame, n_classes: int) -> np.ndarray:
    """(C, C) int64: how many listed pairs each (class A, class B) cell holds, symmetric.

    Cell (a, b) equals ``len(filter_pairs(pairs, a, b))`` for every a, b.
    """
    return pair_counts(pairs["label_i"].to_numpy(), pairs["label_j"].to_numpy(), n_classes)


def orient_pairs(pairs: pd.DataFrame, a: int | None, b: int | None) -> pd.DataFrame:
    """Swap each pair's two samples where needed so that column A holds class ``a`` (or, with only ``b``
    chosen, column B holds ``b``): the gallery then reads in the pickers' and the heatmap's order."""
    if a is not None:
        swap = pairs["label_i"].to_numpy() != a
    elif b is not None:
        swap = pairs["label_j"].to_numpy() != b
    else:
        return pairs
    out = pairs.copy()
    for left, right in (("i", "j"), ("label_i", "label_j")):
        lv, rv = out[left].to_numpy().copy(), out[right].to_numpy().copy()
        out[left] = np.where(swap, rv, lv)
        out[right] = np.where(swap, lv, rv)
    return out


def histogram_view(
    edges: np.ndarray, counts: dict[str, np.ndarray], bins: int = 80
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fine histograms (B,) over ``edges`` (B+1,) trimmed to the occupied range and merged into about ``bins``
    bins. Returns (new edges (b+1,) float64, {name: (b,) int64}) with every count preserved."""
    total = sum(np.asarray(c, np.int64) for c in counts.values())
    occupied = np.flatnonzero(total)
    if occupied.size == 0:
        return np.asarray(edges, np.float64), {k: np.asarray(v, np.int64) for k, v in counts.items()}
    lo, hi = int(occupied[0]), int(occupied[-1]) + 1
    step = max(1, -(-(hi - lo) // bins))
    starts = np.arange(lo, hi, step)
    merged = {k: np.add.reduceat(np.asarray(v, np.int64)[lo:hi], starts - lo) for k, v in counts.items()}
    new_edges = np.append(np.asarray(edges, np.float64)[starts], float(edges[hi]))
    return new_edges, merged


def band_caption(definition: dict | None, t_hi: float, t_lo: float, k: int | None) -> str:
    """The band definition in words, thresholds as numbers (4 decimals)."""
    d = definition or {}
    where = f" at the {d['pos_high']:.0%} / {d['pos_low']:.0%} positions" if "pos_high" in d else ""
    among = f"among each sample's {k} most similar other-class samples, " if k else ""
    return (
        f"A difficult pair is a cross-class pair {among}with similarity in the band "
        f"**{t_lo:.4f} ≤ s < {t_hi:.4f}** (Sim_posLow ≤ s < Sim_posHigh, Eq. 12: thresholds{where} of all "
        "pair similarities, sorted from the most similar)."
    )


#: The thresholds' one name across the app (the paper's notation), and what the help says of each.
THRESHOLD_HELP = {
    "Sim_posLow": "The band's lower edge: the similarity at position posLow of all pair similarities, sorted "
    "from the most similar (Eq. 12). Position set by `--pos-low` (config pos_low); stored as t_lo.",
    "Sim_posHigh": "The band's upper edge: the similarity at position posHigh (Eq. 12). Position set by "
    "`--pos-high` (config pos_high); stored as t_hi.",
}


def definitions_text(
    top: pd.DataFrame, band: pd.DataFrame | None, t_lo: float, t_hi: float, names: Sequence[str]
) -> str:
    """Why the two heatmaps differ, in two sentences with this run's numbers: where the band and the
    top-K cut sit on the similarity axis, how many top-K pairs the band holds, and the hottest top-K
    cell's count under both definitions."""
    if top.empty:
        return "pairs.csv holds no pairs."
    cut, k = float(top["similarity"].min()), len(top)
    sims = top["similarity"].to_numpy()
    inside = int(((sims >= t_lo) & (sims < t_hi)).sum())
    if cut >= t_hi:
        where = f"all at s ≥ {cut:.3f}, above the band, so the band excludes every one of them"
    elif cut >= t_lo:
        where = f"at s ≥ {cut:.3f}: {inside:,} of them fall in the band, the rest lie above it"
    else:
        where = f"down to s = {cut:.3f}, below the band: {inside:,} of them fall in it"
    text = (
        f"The band takes the cross-class kNN pairs with Sim_posLow = {t_lo:.3f} ≤ s < Sim_posHigh = {t_hi:.3f}, "
        f"fixed positions (posLow, posHigh) of all pair similarities; the top K = {k:,} are the most similar "
        f"cross-class pairs, {where}."
    )
    if band is None:
        return text
    ct, cb = cell_counts(top, len(names)), cell_counts(band, len(names))
    a, b = (int(v) for v in np.unravel_index(np.argmax(np.triu(ct, 1)), ct.shape))
    return text + (
        f" So the heatmaps count different pairs: the hottest top-K cell, {names[a]} ↔ {names[b]} "
        f"({ct[a, b]:,} pairs), holds {cb[a, b]:,} band pairs."
    )


def recorded_params(definitions: dict[str, Any] | None) -> tuple[int, int]:
    """``(K, k)`` that ``pairs.json``'s definitions were computed with (the ``pairs`` defaults 1000, 20 when absent)."""
    d = definitions or {}
    top, k = (d.get("top") or {}).get("top"), (d.get("band") or {}).get("k")
    return (int(top) if isinstance(top, int) else 1000, int(k) if isinstance(k, int) else 20)


def url_count(value: str | None, lo: int, hi: int) -> int | None:
    """A URL value as a whole number in ``[lo, hi]`` (None when absent, not a number or out of range)."""
    if value is None or not value.strip().isdigit():
        return None
    n = int(value)
    return n if lo <= n <= hi else None

"""What the Hard pairs page shows: the pairs of the chosen classes, a gallery page, heatmap clicks.

Pure functions (no Streamlit calls) over pairs.csv (i, j, label_i, label_j, similarity) and
class_pairs.npz.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

ANY = "any class"


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


def pair_table(rows: pd.DataFrame, start: int, names: Sequence[str], thumbs: Any) -> pd.DataFrame:
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
        }
    )

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
from ui.figures import KEPT_COLOR, MIXED_COLOR, REMOVED_COLOR
from ui.scoreview import by_index, score_columns

KEPT_PRUNED = "kept / pruned"
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


def colour_options(scores: pd.DataFrame | None, has_keep: bool) -> list[str]:
    """ "Colour by" choices: class, each score, mixed (if scores.csv has it), kept / pruned (a pruned run)."""
    opts = ["class", *score_columns(scores)]
    if scores is not None and "mixed" in scores.columns:
        opts.append("mixed")
    if has_keep:
        opts.append(KEPT_PRUNED)
    return opts


def point_labels(ids: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """(len(ids),) int64 label of each map point; zeros when the labels do not cover every id."""
    ids = np.asarray(ids, np.int64)
    if labels is not None and ids.size and labels.shape[0] > ids.max():
        return np.asarray(labels[ids], np.int64)
    return np.zeros_like(ids)


def class_text(labels: Sequence[int], names: Sequence[str]) -> list[str]:
    """Class name per label ("?" outside ``names``)."""
    return [names[int(c)] if 0 <= int(c) < len(names) else "?" for c in labels]


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
) -> Colouring:
    """The colour of each point for a "Colour by" choice (see :func:`colour_options`)."""
    if colour == "class":
        return Colouring(point_label, list(names), "class", None, None)
    if colour == "mixed":
        assert scores is not None
        return Colouring(by_index(scores, "mixed", ids), ["clean", "mixed"], "mixed", [KEPT_COLOR, MIXED_COLOR], None)
    if colour == KEPT_PRUNED:
        kept = np.isin(ids, keep if keep is not None else [])
        return Colouring(np.where(kept, 0, 1), ["kept", "pruned"], "", [KEPT_COLOR, REMOVED_COLOR], None)
    assert scores is not None
    return Colouring(by_index(scores, colour, ids), None, colour, None, colour)


@dataclass(frozen=True)
class GridItems:
    """The selected images in display order: ids, captions, class names; how many ids were dropped;
    the score in the captions (or None) and whether the order follows it."""

    ids: list[int]
    captions: list[str]
    classes: list[str]
    dropped: int
    score: str | None
    ranked: bool

    def summary(self) -> str:
        """``3 selected (4: 2, 7: 1). Captions: id · class · band (highest band first).``"""
        counts = pd.Series(self.classes, dtype=object).value_counts()
        legend = f"id · class · {self.score}" if self.score else "id · class"
        if self.ranked:
            legend += f" (highest {self.score} first)"
        by_class = ", ".join(f"{k}: {v}" for k, v in counts.items())
        return f"{len(self.ids)} selected ({by_class}). Captions: {legend}."


def grid_items(
    selected: Sequence[int],
    n_images: int,
    scores: pd.DataFrame | None,
    labels: np.ndarray | None,
    names: Sequence[str],
    score_name: str | None,
) -> GridItems:
    """Selected ids -> the grid: ids outside the dataset dropped; ranked by ``score_name`` (highest
    first) when the user coloured/sized by it, else in selection order with ``band`` captions."""
    ids = [int(i) for i in selected]
    valid = [i for i in ids if 0 <= i < n_images]
    ranked = score_name is not None
    if score_name is None and scores is not None and "band" in scores.columns:
        score_name = "band"
    values: list[Any] = (
        list(by_index(scores, score_name, np.asarray(valid, np.int64)))
        if score_name and scores is not None and valid
        else [None] * len(valid)
    )
    if ranked and valid:
        order = np.argsort(-np.nan_to_num(np.asarray(values, np.float64), nan=-np.inf), kind="stable")
        valid = [valid[k] for k in order]
        values = [values[k] for k in order]
    classes = [
        names[int(labels[i])] if labels is not None and i < labels.shape[0] and 0 <= labels[i] < len(names) else "?"
        for i in valid
    ]
    captions = [caption(i, c, s) for i, c, s in zip(valid, classes, values, strict=True)]
    return GridItems(valid, captions, classes, len(ids) - len(valid), score_name, ranked)

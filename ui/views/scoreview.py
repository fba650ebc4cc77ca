"""scores.csv as the pages read it: which columns are scores, and a score aligned to sample ids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.analysis.scoretable import META_COLUMNS


def score_columns(scores: pd.DataFrame | None) -> list[str]:
    """Numeric score columns of scores.csv, in file order (everything but ``META_COLUMNS``)."""
    if scores is None:
        return []
    return [c for c in scores.columns if c not in META_COLUMNS and pd.api.types.is_numeric_dtype(scores[c])]


def by_index(scores: pd.DataFrame, column: str, ids: np.ndarray) -> np.ndarray:
    """(len(ids),) float64: ``scores[column]`` of each sample id (NaN where a sample has no score)."""
    series = scores.set_index("index")[column]
    return series.reindex(np.asarray(ids, np.int64)).to_numpy(np.float64)


def labels_by_id(scores: pd.DataFrame) -> np.ndarray:
    """(max id + 1,) int64: each sample id's label from scores.csv (-1 for ids it lacks)."""
    labels = np.full(int(scores["index"].max()) + 1, -1, dtype=np.int64)
    labels[scores["index"].to_numpy(np.int64)] = scores["label"].to_numpy(np.int64)
    return labels

"""Choose which training samples a pruned retrain keeps.

``select_keep`` removes the ``round(ratio * N)`` samples with the HIGHEST difficulty score (every
score in ``core.analysis.scoretable`` is oriented so that higher = more difficult). Equal scores are ordered by
a seeded random permutation, so ties are broken reproducibly and without favouring low indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.analysis.scoretable import BY_NAME, FREE_SCORES, ORACLE_SCORES
from core.errors import HardpairsError


def oracle_score(df: pd.DataFrame, score: str) -> np.ndarray:
    """(N,) float64 values of the oracle ``score`` (a row of ``core.analysis.scoretable`` with ``oracle=True``).

    Raises:
        HardpairsError: ``score`` is not an oracle, or the run lacks its ground truth.
    """
    row = BY_NAME.get(score)
    if row is None or not row.oracle:
        raise HardpairsError(f"{score!r} is not an oracle score; oracle scores: {', '.join(ORACLE_SCORES)}")
    values: np.ndarray = np.asarray(row.resolve()(df), dtype=np.float64)
    return values


def mixed_oracle(df: pd.DataFrame) -> np.ndarray:
    """The oracle ``mixed`` from a ``scores.csv`` frame: (N,) float64, 1.0 for a mixed sample, 0.0 else.

    With ``--ratio`` equal to the run's ``--mix``, pruning by it removes exactly the mixed images
    (the "Removing" bars of the paper's Figs. 2 and 6).

    Raises:
        HardpairsError: the run is not Mixed-ω (no ``mixed`` column).
    """
    if "mixed" not in df.columns:
        raise HardpairsError(
            "the oracle score 'mixed' removes the ground-truth mixed images, and this run is not Mixed-ω "
            f"(it was trained without --mix); train with e.g. --mix 0.2 or prune by one of {', '.join(FREE_SCORES)}"
        )
    values: np.ndarray = df["mixed"].to_numpy().astype(np.float64)
    return values


def select_keep(scores: np.ndarray, ratio: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split sample ids into kept and pruned.

    Args:
        scores: (N,) float difficulty scores, higher = pruned first. NaN is not allowed.
        ratio: share to remove, in [0, 1).
        seed: seed of the tie-breaking permutation.

    Returns:
        kept (N - m,) int64 sorted ids, pruned (m,) int64 sorted ids, m = round(ratio * N).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if not (isinstance(ratio, (int, float)) and 0.0 <= float(ratio) < 1.0):
        raise HardpairsError(
            f"prune ratio {ratio} is outside [0, 1); pass e.g. --ratio 0.1 to remove the 10% most difficult samples"
        )
    if scores.ndim != 1 or len(scores) == 0:
        raise HardpairsError(f"scores must be a non-empty (N,) array, got shape {scores.shape}")
    if np.isnan(scores).any():
        raise HardpairsError(
            "the score has NaN values, so pruning by it is undefined; recompute "
            "the scores with `python -m core score --run-dir R`"
        )
    n = len(scores)
    m = int(round(float(ratio) * n))
    perm = np.random.default_rng(seed).permutation(n)
    # sort by score descending; among equal scores, by position in the seeded permutation
    tiebreak = np.empty(n, np.int64)
    tiebreak[perm] = np.arange(n)
    order = np.lexsort((tiebreak, -scores))
    pruned = np.sort(order[:m]).astype(np.int64)
    kept = np.sort(order[m:]).astype(np.int64)
    return kept, pruned


def per_class_counts(labels: np.ndarray, pruned: np.ndarray, classes: Sequence[str] | None = None) -> pd.DataFrame:
    """How many samples of each class a pruning removes.

    Args:
        labels: (N,) int class ids (-1 = unlabelled, reported as class ``"unlabelled"``).
        pruned: (m,) int sample ids removed.
        classes: class names by id (ids are used when None).

    Returns:
        DataFrame ``class, total, pruned, kept, pruned_share`` with one row per label present.
    """
    labels = np.asarray(labels, dtype=np.int64)
    gone = np.zeros(len(labels), bool)
    gone[np.asarray(pruned, dtype=np.int64)] = True
    rows = []
    for c in np.unique(labels):
        members = labels == c
        total, removed = int(members.sum()), int((members & gone).sum())
        if c < 0:
            name = "unlabelled"
        elif classes is not None and c < len(classes):
            name = str(classes[c])
        else:
            name = str(int(c))
        rows.append(
            {"class": name, "total": total, "pruned": removed, "kept": total - removed, "pruned_share": removed / total}
        )
    return pd.DataFrame(rows, columns=["class", "total", "pruned", "kept", "pruned_share"])

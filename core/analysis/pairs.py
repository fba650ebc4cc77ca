"""Hardest cross-class pairs and the class x class map of difficult pairs.

Both come from the **other-class kNN graph**: each sample linked to its k most similar samples of
*other* classes (exact cosine kNN over L2-normalised pre-projector features, see
``core.analysis.neighbors.class_split_knn``). Nothing holds all N^2 pairs.

- ``hardest_pairs``: the graph's edges as unordered pairs (i < j), ranked by similarity. A pair
  ranked t-th among *all* cross-class pairs lies in i's top-t other-class list, so the ranking is
  exact for ``top <= k`` and, in practice, far beyond (a pair is missed only when one endpoint
  has more than k other-class neighbours that are all more similar).
- ``class_pair_matrix``: a **difficult pair** is an edge of that graph whose similarity lies in
  the paper's band ``t_lo <= s < t_hi`` (the same dataset-level Sim_posLow / Sim_posHigh as the
  ``band`` score, see ``core.analysis.scores``). ``difficult_counts[a, b]`` counts the unordered difficult
  pairs between classes a and b (symmetric, zero diagonal). ``mean_similarity[a, b]`` is the exact
  mean cosine over *all* pairs of classes a and b (from class sums: mean = s_a . s_b / (n_a n_b));
  the diagonal is the mean over same-class pairs i != j. NaN where a class has too few samples.
- ``band_pairs``: the pairs ``difficult_counts`` counts, listed (the **band** definition of a
  difficult pair); ``pair_counts`` turns any list of pairs into its (C, C) count matrix, so a view
  that lists pairs and a heatmap that counts them use one definition (the **top-K** definition is
  simply ``hardest_pairs(top=K)`` counted by ``pair_counts``).
- ``similarity_histograms``: histograms of all and of cross-class pair similarities (for the band's picture).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.analysis.band import band_sweep
from core.analysis.neighbors import class_split_knn, group_sums, l2_normalise
from core.errors import HardpairsError


def _prepare(
    features: np.ndarray, labels: np.ndarray, k: int, normalised: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    xn = np.ascontiguousarray(features, dtype=np.float32) if normalised else l2_normalise(features)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(xn):
        raise HardpairsError(
            f"{len(labels)} labels for {len(xn)} feature rows; recompute the "
            "features with `python -m core probe --run-dir R`"
        )
    if (labels < 0).any():
        raise HardpairsError(
            "cross-class pairs need labels, and this dataset is unlabelled; "
            "use the label-free scores (band, prototype) instead"
        )
    if len(np.unique(labels)) < 2:
        raise HardpairsError("cross-class pairs need at least two classes; this data has one")
    if k < 1 or k >= len(xn):
        raise HardpairsError(f"k={k} neighbours need more than k samples, but there are {len(xn)}; pass a smaller --k")
    return xn, labels


def _edges(graph: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique unordered edges (i < j) of the other-class graph with their similarity, sorted by
    similarity descending, then i, then j. A pair listed from both ends keeps its larger similarity."""
    n, k = graph["other_idx"].shape
    j = graph["other_idx"].ravel()
    ok = j >= 0
    i = np.repeat(np.arange(n, dtype=np.int64), k)[ok]
    j, s = j[ok], graph["other_sims"].ravel()[ok]
    key = np.minimum(i, j) * n + np.maximum(i, j)  # orders pairs by (i, j)
    order = np.argsort(key, kind="stable")
    key, s = key[order], s[order]
    heads = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    s = np.maximum.reduceat(s, heads) if len(key) else s
    key = key[heads]
    order = np.argsort(-s, kind="stable")  # stable: equal similarities stay in (i, j) order
    key, s = key[order], s[order]
    return key // n, key % n, s


def hardest_pairs(
    features: np.ndarray,
    labels: np.ndarray,
    top: int = 1000,
    k: int = 20,
    graph: dict[str, np.ndarray] | None = None,
    normalised: bool = False,
) -> pd.DataFrame:
    """The ``top`` most similar pairs of samples with different labels.

    Args:
        features: (N, D) features. labels: (N,) int class ids. top: rows returned. k: other-class
            neighbours per sample in the graph. graph: a precomputed
            ``core.analysis.neighbors.class_split_knn(l2_normalise(features), labels, k)`` to reuse.
            normalised: ``features`` are already ``l2_normalise``d (skip normalising them again).

    Returns:
        DataFrame ``i, j, label_i, label_j, similarity`` (i < j, int64 / float32), ranked by
        similarity descending (ties by i, then j).
    """
    xn, labels = _prepare(features, labels, k, normalised)
    a, b, s = _edges(graph if graph is not None else class_split_knn(xn, labels, k))
    a, b, s = a[:top], b[:top], s[:top]
    return pd.DataFrame(
        {"i": a, "j": b, "label_i": labels[a], "label_j": labels[b], "similarity": s.astype(np.float32)}
    )


def class_mean_similarity(xn: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Exact (C, C) mean cosine between classes (diagonal: same-class pairs i != j). float32."""
    sums = group_sums(xn, labels, n_classes)
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    sq = np.bincount(labels, weights=np.einsum("nd,nd->n", xn, xn, dtype=np.float64), minlength=n_classes)
    dots = sums @ sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = dots / np.outer(counts, counts)
        diag = (np.diag(dots) - sq) / (counts * (counts - 1))
    mean[np.diag_indices(n_classes)] = diag
    mean[~np.isfinite(mean)] = np.nan
    out: np.ndarray = mean.astype(np.float32)
    return out


def class_pair_matrix(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    pos_high: float,
    pos_low: float,
    k: int = 20,
    thresholds: tuple[float, float] | None = None,
    graph: dict[str, np.ndarray] | None = None,
    normalised: bool = False,
) -> dict[str, Any]:
    """Class x class difficult-pair counts and mean similarities (definitions in the docstring).

    Args:
        features: (N, D). labels: (N,) int in [0, n_classes). pos_high < pos_low: the band's
            percentile positions. k: other-class neighbours per sample.
        thresholds: (t_hi, t_lo) similarities when already known (e.g. from ``scores.json``);
            computed exactly from all pairs otherwise. graph, normalised: as in ``hardest_pairs``.

    Returns:
        dict: ``difficult_counts`` (C, C) int64, ``mean_similarity`` (C, C) float32,
        ``t_hi``, ``t_lo`` floats.
    """
    xn, labels = _prepare(features, labels, k, normalised)
    if labels.max() >= n_classes:
        raise HardpairsError(f"label {labels.max()} >= n_classes={n_classes}; pass the dataset's class count")
    if thresholds is None:
        res = band_sweep(xn, pos_high, pos_low)
        thresholds = (res["t_hi"], res["t_lo"])
    t_hi, t_lo = float(thresholds[0]), float(thresholds[1])
    a, b, s = _edges(graph if graph is not None else class_split_knn(xn, labels, k))
    inside = (s >= t_lo) & (s < t_hi)
    return {
        "difficult_counts": pair_counts(labels[a[inside]], labels[b[inside]], n_classes),
        "mean_similarity": class_mean_similarity(xn, labels, n_classes),
        "t_hi": t_hi,
        "t_lo": t_lo,
    }


def pair_counts(label_i: np.ndarray, label_j: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) int64 symmetric count of unordered pairs per class pair (zero diagonal for cross-class pairs).

    Args:
        label_i, label_j: (P,) int class ids of each pair's two samples.
    """
    counts = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(counts, (np.asarray(label_i, np.int64), np.asarray(label_j, np.int64)), 1)
    return counts + counts.T - np.diag(np.diag(counts))


def band_pairs(
    features: np.ndarray,
    labels: np.ndarray,
    t_hi: float,
    t_lo: float,
    k: int = 20,
    graph: dict[str, np.ndarray] | None = None,
    normalised: bool = False,
) -> pd.DataFrame:
    """Every difficult pair of the **band** definition: an edge of the other-class kNN graph (a pair in
    one endpoint's ``k`` most similar other-class samples) with ``t_lo <= similarity < t_hi``.

    These are exactly the pairs ``class_pair_matrix`` counts in ``difficult_counts``.

    Args:
        features: (N, D). labels: (N,) int. t_hi, t_lo: the band's similarity thresholds (Eq. 12).
        k, graph, normalised: as in ``hardest_pairs``.

    Returns:
        DataFrame ``i, j, label_i, label_j, similarity`` (i < j), most similar first (ties by i, then j).
    """
    xn, labels = _prepare(features, labels, k, normalised)
    a, b, s = _edges(graph if graph is not None else class_split_knn(xn, labels, k))
    inside = (s >= t_lo) & (s < t_hi)
    a, b, s = a[inside], b[inside], s[inside]
    return pd.DataFrame(
        {"i": a, "j": b, "label_i": labels[a], "label_j": labels[b], "similarity": s.astype(np.float32)}
    )


def similarity_histograms(
    xn: np.ndarray, labels: np.ndarray, bins: int = 2000, max_samples: int = 4000, seed: int = 0, block: int = 1024
) -> dict[str, Any]:
    """Histograms of the cosine similarities of all unordered pairs i < j and of the cross-class ones.

    Above ``max_samples`` samples the pairs are those of a seeded random subset of ``max_samples`` samples
    (an estimate of the shape; the band thresholds themselves are always exact, see ``band_sweep``).

    Args:
        xn: (N, D) float32 unit rows. labels: (N,) int64. bins: equal bins over [-1, 1].

    Returns:
        dict: ``edges`` (bins+1,) float64, ``all`` and ``cross`` (bins,) int64 counts, ``n_samples`` int
        (rows used), ``sampled`` bool.
    """
    n = len(xn)
    rows = np.arange(n)
    if n > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(n, max_samples, replace=False))
    x = np.asarray(xn, np.float32)[rows]
    y = np.asarray(labels, np.int64)[rows]
    edges = np.linspace(-1.0, 1.0, bins + 1)
    total = np.zeros(bins, np.int64)
    cross = np.zeros(bins, np.int64)
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        s = np.clip(x[start:stop] @ x.T, -1.0, 1.0)
        upper = np.arange(len(x))[None, :] > np.arange(start, stop)[:, None]  # pairs i < j only
        total += np.histogram(s[upper], bins=edges)[0]
        other = upper & (y[start:stop, None] != y[None, :])
        cross += np.histogram(s[other], bins=edges)[0]
    return {"edges": edges, "all": total, "cross": cross, "n_samples": len(x), "sampled": len(x) < n}

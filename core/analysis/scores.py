"""Per-sample difficulty scores over a run's pre-projector features. Higher = more difficult.

A HIGHER value means MORE difficult (pruning removes the highest first). With x_i the L2-normalised
feature of sample i and s_ij = x_i . x_j (cosine):

- ``band`` (label-free; the paper's Eq. 12 selection lifted from a batch to the dataset). Sort the
  similarities of all ordered pairs (i, j), i != j (M = N(N-1) values) in descending order;
  Sim_posHigh = t_hi is the ceil(pos_high * M)-th largest value and Sim_posLow = t_lo the
  ceil(pos_low * M)-th largest. ``band_i = #{j != i : t_lo <= s_ij < t_hi} / (N - 1)``, the share
  of sample i's pairs that the paper would flag as difficult. With ``band_reference = R`` the pairs
  are (i, r) for r in a seeded random subset of R samples (r != i) instead of all j.
- ``cross_class`` (needs labels): ``mean_k other-class sims - mean_k same-class sims``: the mean
  similarity to the k nearest samples of other classes minus the mean similarity to the k nearest
  samples of the own class (fewer when a class is small; a missing side counts as -1). A sample
  that sits between clusters, like a pixel mix of two classes, is close to another class and far
  from its own, so it scores high.
- ``margin`` (needs labels): ``1 - (p_top1 - p_top2)`` of the linear-probe class probabilities
  (the paper's App. A.5 gap; a small gap = difficult). Unless given, the probe of
  ``core.analysis.probe`` is fitted on these features and labels and evaluated on the same samples.
- ``prototype`` (label-free SSL prototype): spherical k-means (faiss, seeded) with
  ``n_prototypes`` centroids (default: the number of classes, else round(1 / pos_high), the
  paper's posHigh ~ 1/(classes)); ``prototype_i = c2_i - c1_i``, the cosine to the 2nd-nearest
  centroid minus the cosine to the nearest: near 0 on a boundary between prototypes.
- ``random``: uniform [0, 1) from ``numpy.random.default_rng(seed)`` (baseline).

Exactness and memory: ``band`` and ``cross_class`` come from one exact blockwise sweep over the pair
matrix (``core.analysis.band``; no N x N matrix). Each score's row (name, label, direction, whether it needs
labels, its function below) is in ``core.analysis.scoretable``, which orders the columns.

Approximate path (``ScoreConfig.knn``: ``auto`` = above ``core.analysis.approx.sampled.APPROX_MIN_N``
samples, or ``approx``): t_hi / t_lo from a seeded sample of pairs, ``band`` against a seeded
reference set (``core.analysis.approx.sampled``) and the same/other-class top-k from the IVF graph of
``core.analysis.approx.graphtune`` (recall measured); the ``margin`` probe (when not given) is fitted on a
seeded subsample (``PROBE_FIT_CAP``, or 50 per class when more) and evaluated on all (``knn.margin_probe_rows``).
``df.attrs["knn"]`` records the path and its figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import pandas as pd

from core.analysis.approx.graphtune import tuned_class_split_knn
from core.analysis.approx.sampled import (
    DEFAULT_PAIRS,
    DEFAULT_REFERENCE,
    band_against_reference,
    choose_knn,
    reference_rows,
    sample_thresholds,
)
from core.analysis.band import band_sweep
from core.analysis.neighbors import class_split_knn, l2_normalise
from core.analysis.scoretable import SCORES
from core.errors import HardpairsError

#: on the approximate path, the ``margin`` probe is fitted on a seeded subsample of
#: max(PROBE_FIT_CAP, PROBE_FIT_PER_CLASS * classes) samples (20,000 for 10 classes, 50,000 for 1,000)
PROBE_FIT_CAP = 20_000
PROBE_FIT_PER_CLASS = 50


@dataclass(frozen=True)
class ScoreConfig:
    """Parameters of ``compute_scores``.

    pos_high / pos_low: percentile positions (fractions of the descending pair list), 0 < pos_high
    < pos_low <= 1. k: neighbours per side for ``cross_class``. band_reference: estimate ``band``
    against this many random reference samples (None = all pairs, exact). n_prototypes: k-means
    centroids for ``prototype``. seed: for ``random``, k-means and the reference subset.
    block: rows/columns per similarity block. knn: ``auto`` / ``exact`` / ``approx`` (module
    docstring); n_pairs: sampled pairs for the approximate thresholds.
    """

    pos_high: float = 0.15
    pos_low: float = 0.22
    k: int = 20
    band_reference: int | None = None
    n_prototypes: int | None = None
    seed: int = 0
    block: int = 4096
    knn: str = "auto"
    n_pairs: int = DEFAULT_PAIRS


def _validate(n: int, labels: np.ndarray | None, cfg: ScoreConfig) -> None:
    if not 0.0 < cfg.pos_high < cfg.pos_low <= 1.0:
        raise HardpairsError(
            f"need 0 < pos_high < pos_low <= 1, got pos_high={cfg.pos_high}, "
            f"pos_low={cfg.pos_low}; fix the run's config or pass other values"
        )
    if n < 3 or cfg.k < 1 or cfg.k >= n:
        raise HardpairsError(
            f"k={cfg.k} neighbours need more than k samples, but there are "
            f"{n}; pass a smaller --k (at most {max(n - 1, 1)}) or use more data"
        )
    if labels is not None and len(labels) != n:
        raise HardpairsError(
            f"{len(labels)} labels for {n} feature rows; the features file is "
            "inconsistent, recompute it with `python -m core probe --run-dir R`"
        )
    if cfg.band_reference is not None and not 2 <= cfg.band_reference:
        raise HardpairsError(f"band_reference={cfg.band_reference} must be at least 2 samples")


def prototype_score(xn: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """``c2 - c1``: cosine to the 2nd-nearest minus the nearest centroid. (N,) float32.

    Args:
        xn: (N, D) float32 unit rows. centroids: (P, D) float32 (normalised here), P >= 2.
    """
    cn = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    sims = xn @ cn.astype(np.float32).T
    top2 = -np.sort(-sims, axis=1)[:, :2]
    gap: np.ndarray = (top2[:, 1] - top2[:, 0]).astype(np.float32)
    return gap


def fit_prototypes(xn: np.ndarray, n_prototypes: int, seed: int = 0) -> np.ndarray:
    """Spherical k-means centroids (P, D) float32 with faiss (seeded, 25 iterations)."""
    p = int(min(max(n_prototypes, 2), len(xn)))
    km = faiss.Kmeans(
        xn.shape[1], p, niter=25, seed=int(seed), spherical=True, verbose=False, max_points_per_centroid=100000
    )
    km.train(xn)
    return np.asarray(km.centroids, dtype=np.float32)


def margin_score(proba: np.ndarray) -> np.ndarray:
    """``1 - (p_top1 - p_top2)`` per row of (N, C) probabilities; (N,) float32, in [0, 1]."""
    proba = np.asarray(proba, dtype=np.float32)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise HardpairsError("margin needs (N, C >= 2) probe probabilities; train on at least two classes")
    top2 = -np.sort(-proba, axis=1)[:, :2]
    margin: np.ndarray = (1.0 - (top2[:, 0] - top2[:, 1])).astype(np.float32)
    return margin


def _mean_topk(sims: np.ndarray) -> np.ndarray:
    finite = np.isfinite(sims)
    count = finite.sum(axis=1)
    total = np.where(finite, sims, 0.0).sum(axis=1, dtype=np.float64)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


Graph = tuple[dict[str, np.ndarray], dict[str, Any]]


def approx_band(xn: np.ndarray, labels: np.ndarray | None, cfg: ScoreConfig, graph: Graph | None) -> dict[str, Any]:
    """The approximate path: sampled thresholds, band against a reference set, IVF top-k (+ ``knn`` info)."""
    th = sample_thresholds(xn, cfg.pos_high, cfg.pos_low, cfg.n_pairs, cfg.seed)
    ref = reference_rows(len(xn), cfg.band_reference or DEFAULT_REFERENCE, cfg.seed)
    out: dict[str, Any] = {"band": band_against_reference(xn, th["t_hi"], th["t_lo"], ref), **th}
    info: dict[str, Any] = {"method": "approx", "band_reference": len(ref)}
    info.update({key: th[key] for key in ("n_pairs", "t_hi_ci", "t_lo_ci", "t_error")})
    if labels is not None:
        g, ginfo = graph if graph is not None else tuned_class_split_knn(xn, labels, cfg.k, seed=cfg.seed)
        out.update(same_sims=g["same_sims"], other_sims=g["other_sims"])
        info.update({f"knn_{key}": v for key, v in ginfo.items()})
    out["knn"] = info
    return out


@dataclass
class ScoreInputs:
    """What a score function of ``core.analysis.scoretable`` reads (``xn``: (N, D) float32 unit rows; ``sweep``:
    ``band``, ``t_hi``, ``t_lo``, ``knn`` and, with labels, the (N, k) ``same_sims`` / ``other_sims``)."""

    features: np.ndarray
    xn: np.ndarray
    labels: np.ndarray | None
    cfg: ScoreConfig
    sweep: dict[str, Any]
    probe_proba: np.ndarray | None
    n_prototypes: int


def band_column(s: ScoreInputs) -> np.ndarray:
    """``band``: the share of each row's pairs inside the band (from the sweep)."""
    return np.asarray(s.sweep["band"], dtype=np.float32)


def cross_class_column(s: ScoreInputs) -> np.ndarray:
    """``cross_class`` from the sweep's (N, k) same/other-class top-k similarities (``-inf`` = missing)."""
    cross: np.ndarray = (_mean_topk(s.sweep["other_sims"]) - _mean_topk(s.sweep["same_sims"])).astype(np.float32)
    return cross


def margin_column(s: ScoreInputs) -> np.ndarray:
    """``margin`` of the given probe probabilities, or of a linear probe fitted here on the features."""
    if s.probe_proba is not None:
        return margin_score(s.probe_proba)
    assert s.labels is not None  # the table marks margin as needing labels
    labels, raw = s.labels, np.asarray(s.features, dtype=np.float32)
    x_fit, y_fit, n = raw, labels, len(raw)
    cap = max(PROBE_FIT_CAP, PROBE_FIT_PER_CLASS * (int(labels.max()) + 1))
    if s.sweep["knn"]["method"] == "approx" and n > cap:  # the approximate path fits the probe on a seeded subsample
        fit = np.sort(np.random.default_rng(s.cfg.seed + 3).choice(n, cap, replace=False))
        x_fit, y_fit = raw[fit], labels[fit]
        s.sweep["knn"]["margin_probe_rows"] = cap
    from core.analysis.probe import ProbeConfig, fit_linear_probe  # scipy.optimize: 0.3 s to import, only here

    probe = fit_linear_probe(x_fit, y_fit, int(labels.max()) + 1, ProbeConfig(seed=s.cfg.seed))
    return margin_score(probe.predict_proba(raw))


def prototype_column(s: ScoreInputs) -> np.ndarray:
    """``prototype``: ``c2 - c1`` to the spherical k-means centroids."""
    return prototype_score(s.xn, fit_prototypes(s.xn, s.n_prototypes, s.cfg.seed))


def random_column(s: ScoreInputs) -> np.ndarray:
    """``random``: the first N draws of ``default_rng(seed)``, uniform in [0, 1)."""
    return np.asarray(np.random.default_rng(s.cfg.seed).random(len(s.xn)), dtype=np.float32)


def compute_scores(
    features: np.ndarray,
    labels: np.ndarray | None,
    cfg: ScoreConfig,
    probe_proba: np.ndarray | None = None,
    graph: Graph | None = None,
) -> pd.DataFrame:
    """Every computed score of ``core.analysis.scoretable.SCORES`` for N samples (formulas in the module docstring).

    Args:
        features: (N, D) pre-projector features, any float dtype (normalised inside).
        labels: (N,) int labels, or None for unlabelled data (also when any label is -1): then
            only the label-free scores (band, prototype, random) are computed.
        cfg: ScoreConfig.
        probe_proba: (N, C) linear-probe probabilities for ``margin``; fitted here when None and
            labels are given.
        graph: on the approximate path, a precomputed ``(graph, info)`` of
            ``core.analysis.approx.ivf.tuned_class_split_knn`` to reuse (computed here when None).

    Returns:
        DataFrame with columns ``index, label`` (label -1 when unlabelled) and one float32 column
        per score in the table's order, higher = more difficult. ``df.attrs`` holds ``t_hi``, ``t_lo`` (the
        band's similarity thresholds), ``n_prototypes`` and ``knn`` (a dict: ``method`` exact / approx and,
        when approximate, the sample sizes, threshold intervals and the graph's measured recall).
    """
    xn = l2_normalise(features)
    n = len(xn)
    shown = np.full(n, -1, np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    if labels is not None and (shown < 0).any():  # unlabelled (-1) samples: no label-aware score
        labels = None
    elif labels is not None:
        labels = shown
    _validate(n, labels, cfg)
    approx = choose_knn(n, cfg.knn) == "approx"
    if approx:
        res = approx_band(xn, labels, cfg, graph)
    else:
        rng, r = np.random.default_rng(cfg.seed), cfg.band_reference
        rng.random(n)  # the band reference is drawn after random's N numbers (as in every scores.csv so far)
        ref = None if r is None or r >= n else np.sort(rng.choice(n, size=r, replace=False))
        res = band_sweep(xn, cfg.pos_high, cfg.pos_low, labels=labels, k=cfg.k, reference=ref, block=cfg.block)
        res["knn"] = {"method": "exact", "band_reference": None if ref is None else len(ref)}
    if labels is not None and "same_sims" not in res:  # reference mode: exact kNN separately
        res.update(class_split_knn(xn, labels, cfg.k))
    n_proto = cfg.n_prototypes or (len(np.unique(labels)) if labels is not None else max(2, round(1.0 / cfg.pos_high)))
    inputs = ScoreInputs(features, xn, labels, cfg, res, probe_proba, int(n_proto))
    df = pd.DataFrame({"index": np.arange(n, dtype=np.int64), "label": shown})
    for row in SCORES:
        if row.oracle or (row.needs_labels and labels is None):
            continue
        values = np.asarray(row.resolve()(inputs), dtype=np.float32)
        df[row.name] = values if row.direction > 0 else -values
    df.attrs.update(t_hi=float(res["t_hi"]), t_lo=float(res["t_lo"]), n_prototypes=int(n_proto), knn=res["knn"])
    return df


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` at finding ``positive`` samples (Mann-Whitney U).

    Ties get average ranks, so a constant score gives 0.5. Returns NaN when one class is empty.

    Args:
        score: (N,) floats, higher = predicted positive. positive: (N,) bool.
    """
    score = np.asarray(score, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(score, kind="mergesort")
    sorted_scores = score[order]
    ranks = np.empty(len(score), dtype=np.float64)
    # average rank (1-based) for each run of equal scores
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))

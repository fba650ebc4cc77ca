"""Label-error suggestions from frozen features: "labelled 8, looks like 3 (p = 0.91)".

Two signals, neither of which ever reads a sample's own label when judging that sample:

- **out-of-fold probe probabilities** (:func:`out_of_fold_proba`): the samples are split into ``folds``
  stratified, seeded folds; for each fold the project's linear probe (``core.analysis.probe.fit_linear_probe``)
  is fitted on the other folds and predicts the held-out fold. Every row of the result comes from a probe
  that never saw that sample (its features or its label). The probe is regularised more than the accuracy
  probe (:data:`WEIGHT_DECAY`): with little weight decay it bends around the flipped labels of its training
  folds and then mispredicts clean held-out samples.
- **kNN votes** (:func:`knn_votes`): the ``k`` nearest other samples (cosine, ``core.analysis.neighbors.knn``,
  self excluded) vote for their labels with weight ``exp(s / t)`` (the weighted kNN of the probe's
  kNN accuracy); the votes of each sample are normalised to sum 1.

:func:`suggest_labels` combines them as ``q = w * p_oof + (1 - w) * votes`` (``w`` = ``probe_weight``) and,
for each sample with given label ``y``:

- ``suggested`` = the most probable class other than ``y`` under ``q``; ``confidence`` = ``q[suggested]``
  (the ``p`` of "looks like 3 (p = 0.91)"); ``p_label`` = ``q[y]``;
- ``score`` = ``1 - q[y]`` (``ranking="self_confidence"``, cleanlab's name) or ``q[suggested] - q[y]``
  (``ranking="margin"``); ``rank`` 1 = the most likely label error (ties: lower id first);
- ``flagged`` = ``q[suggested] > q[y]``: the combined signals prefer another class.

The defaults (``probe_weight=0.5``, self-confidence) were chosen by measurement against planted label
noise on digits (``bench/label_errors.py``, BENCHMARKS.md "Label-error suggestions").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.analysis.neighbors import knn
from core.analysis.probe import ProbeConfig, fit_linear_probe, weighted_votes
from core.errors import HardpairsError

#: ranking rules of :func:`suggest_labels`
RANKINGS = ("self_confidence", "margin")
#: the out-of-fold probe's weight decay: 100x the accuracy probe's, so that a probe fitted on noisy labels does not
#: bend around the flipped samples of its training folds (measured: bench/label_errors.py)
WEIGHT_DECAY = 1e-2
_PROBE = ProbeConfig(weight_decay=WEIGHT_DECAY)


@dataclass(frozen=True)
class LabelSuggestions:
    """Per-sample suggestions, each (N,): ``suggested`` int64, ``confidence`` float64 (q of the suggested class),
    ``p_label`` float64 (q of the given label), ``score`` float64 (higher = more likely an error), ``rank`` int64
    (1 = most likely), ``flagged`` bool (another class is more probable than the given label)."""

    suggested: np.ndarray
    confidence: np.ndarray
    p_label: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    flagged: np.ndarray


def _check_labels(labels: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (n,):
        raise HardpairsError(f"labels {y.shape} do not match {n} feature rows; recompute the run's features")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise HardpairsError(
            "label-error suggestions need every training sample labelled with a class id 0..C-1 "
            "(this run has unlabelled samples, -1, or labels beyond its classes)"
        )
    return y


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) int64 fold id in ``0..folds-1`` of each sample: each class's samples are shuffled (``seed``) and dealt
    round-robin, continuing from where the previous class stopped, so the folds differ in size by at most one."""
    y = np.asarray(labels, dtype=np.int64)
    if not 2 <= folds <= len(y):
        raise HardpairsError(f"--folds {folds}: need between 2 and the number of samples ({len(y)}); e.g. --folds 5")
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), np.int64)
    start = 0
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        out[idx] = (start + np.arange(len(idx))) % folds
        start += len(idx)
    return out


def out_of_fold_proba(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    folds: int = 5,
    seed: int = 0,
    cfg: ProbeConfig = _PROBE,
    fold_ids: np.ndarray | None = None,
) -> np.ndarray:
    """(N, C) float32 probe probabilities, each row predicted by a probe fitted without that sample.

    Args:
        features: (N, D) float features (any float dtype; a memory map is read once).
        labels: (N,) int class ids in ``[0, n_classes)``. n_classes: C.
        folds: K of the stratified K-fold split (:func:`stratified_folds`, seeded by ``seed``).
        cfg: the probe's settings (``core.analysis.probe.ProbeConfig``; weight decay :data:`WEIGHT_DECAY`).
        fold_ids: (N,) int fold of each sample in ``0..K-1`` instead of the stratified split (K = max + 1).
    """
    x = np.asarray(features, dtype=np.float32)
    y = _check_labels(labels, len(x), n_classes)
    fold = stratified_folds(y, folds, seed) if fold_ids is None else np.asarray(fold_ids, np.int64)
    if fold.shape != y.shape:
        raise HardpairsError(f"fold ids {fold.shape} do not match {len(y)} samples")
    proba = np.empty((len(x), n_classes), np.float32)
    for f in np.unique(fold):
        held = fold == f
        probe = fit_linear_probe(x[~held], y[~held], n_classes, cfg)
        proba[held] = probe.predict_proba(x[held])
    return proba


def knn_votes(
    features: np.ndarray, labels: np.ndarray, n_classes: int, k: int = 20, t: float = 0.07
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted kNN label votes of each sample's ``k`` nearest other samples.

    Returns:
        votes (N, C) float64, each row summing to 1; neighbours (N, k) int64 ids, most similar first
        (the sample itself excluded).
    """
    if not t > 0:
        raise HardpairsError(f"kNN temperature t={t} must be > 0; pass e.g. --knn-t 0.07")
    y = _check_labels(labels, len(features), n_classes)
    sims, idx = knn(features, k, exclude_self=True)
    votes = weighted_votes(sims, y[idx], n_classes, t)  # the probe's kNN vote (core.analysis.probe)
    votes /= np.maximum(votes.sum(axis=1, keepdims=True), 1e-300)
    return votes, idx


def suggest_labels(
    proba: np.ndarray,
    votes: np.ndarray,
    labels: np.ndarray,
    probe_weight: float = 0.5,
    ranking: str = "self_confidence",
) -> LabelSuggestions:
    """Combine out-of-fold probabilities and kNN votes into ranked suggestions (module docstring).

    Args:
        proba: (N, C) out-of-fold probabilities. votes: (N, C) kNN votes (rows sum to 1).
        labels: (N,) given labels. probe_weight: w in [0, 1]. ranking: one of :data:`RANKINGS`.
    """
    if not 0.0 <= probe_weight <= 1.0:
        raise HardpairsError(f"--probe-weight {probe_weight} must be in [0, 1] (1: probe only, 0: kNN only)")
    if ranking not in RANKINGS:
        raise HardpairsError(f"--ranking {ranking!r}: use one of {', '.join(RANKINGS)}")
    p, v = np.asarray(proba, np.float64), np.asarray(votes, np.float64)
    if p.shape != v.shape or p.ndim != 2 or p.shape[1] < 2:
        raise HardpairsError(f"probabilities {p.shape} and votes {v.shape} must both be (N, C) with C >= 2")
    y = _check_labels(labels, len(p), p.shape[1])
    q = probe_weight * p + (1.0 - probe_weight) * v
    rows = np.arange(len(y))
    p_label = q[rows, y]
    others = q.copy()
    others[rows, y] = -np.inf
    suggested = others.argmax(axis=1).astype(np.int64)
    confidence = q[rows, suggested]
    score = 1.0 - p_label if ranking == "self_confidence" else confidence - p_label
    order = np.argsort(-score, kind="stable")
    rank = np.empty(len(y), np.int64)
    rank[order] = np.arange(1, len(y) + 1)
    return LabelSuggestions(suggested, confidence, p_label, score, rank, confidence > p_label)


def precision_recall_at(ranked: np.ndarray, truth: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall of the first ``k`` ids of ``ranked`` (fewer when it is shorter) against ``truth``
    ((N,) bool, True = a real label error). Precision of an empty list is 0."""
    top = np.asarray(ranked, np.int64)[:k]
    hits = int(np.asarray(truth, bool)[top].sum())
    total = int(np.asarray(truth, bool).sum())
    return (hits / len(top) if len(top) else 0.0), (hits / total if total else 0.0)

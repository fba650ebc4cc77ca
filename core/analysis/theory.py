"""alpha, beta and gamma estimated from a run's features, as in the paper's App. A.5.

alpha = mean same-class cosine similarity, beta = mean cross-class similarity of pairs with no
difficult sample, gamma = of cross-class pairs with a difficult sample (difficult = the 8%
smallest linear-probe margin per class), with a Welch t-test of gamma vs beta. The bounds these
feed are in ``core.analysis.bounds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from core.analysis.neighbors import l2_normalise
from core.errors import HardpairsError

__all__ = ["difficult_mask", "estimate_abg"]


def difficult_mask(labels: np.ndarray, probe_proba: np.ndarray, share: float = 0.08) -> np.ndarray:
    """Flag, per class, the ``share`` of samples with the smallest top-1 minus top-2 probability gap.

    The paper's App. A.5 rule. Per class ``max(1, round(share * n_c))`` samples are flagged
    (none when ``share == 0``); ties go to the lower index.

    Args:
        labels: (N,) int class labels.
        probe_proba: (N, C) float class probabilities from a linear probe, C >= 2.
        share: fraction in [0, 1).

    Returns:
        (N,) bool, True = difficult.
    """
    labels = np.asarray(labels)
    proba = np.asarray(probe_proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != labels.shape[0] or proba.shape[1] < 2:
        raise HardpairsError(
            f"probe probabilities must be (N, C>=2) with N={labels.shape[0]} "
            f"matching the labels, got {proba.shape}; pass predict_proba of the probe."
        )
    if not 0.0 <= share < 1.0:
        raise HardpairsError(f"difficult share must be in [0, 1), got {share} (the paper uses 0.08).")
    top2 = np.partition(proba, -2, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    hard = np.zeros(labels.shape[0], dtype=bool)
    if share == 0:
        return hard
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = max(1, int(round(share * members.size)))
        hard[members[np.argsort(gap[members], kind="stable")[:k]]] = True
    return hard


def _cross_sum(sums: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Sum of x_i . x_j and count over ordered cross-class pairs, from per-class sums (C, D)."""
    total = sums.sum(0)
    return float(total @ total - np.einsum("cd,cd->", sums, sums)), float(counts.sum() ** 2 - (counts**2).sum())


def _pair_sample(
    x: np.ndarray,
    labels: np.ndarray,
    hard: np.ndarray,
    group: str,
    count: int,
    max_pairs: int,
    rng: np.random.Generator,
    block: int = 1024,
) -> np.ndarray:
    """Similarities of all unordered pairs in ``group`` when ``count <= max_pairs``, else a uniform
    (with replacement) sample of ``max_pairs`` of them. ``group``: "beta" (cross-class, no difficult
    sample) or "gamma" (cross-class, at least one difficult sample)."""
    n = x.shape[0]
    if count <= max_pairs:
        out = []
        for s in range(0, n, block):
            sim = x[s : s + block] @ x.T
            rows = np.arange(s, min(s + block, n))[:, None]
            keep = (np.arange(n)[None, :] > rows) & (labels[rows] != labels[None, :])
            either = hard[rows] | hard[None, :]
            keep &= ~either if group == "beta" else either
            out.append(sim[keep])
        return np.concatenate(out).astype(np.float64)
    easy_idx, hard_idx = np.flatnonzero(~hard), np.flatnonzero(hard)
    got: list[np.ndarray] = []
    have = 0
    while have < max_pairs:
        m = (max_pairs - have) * 5 // 4 + 1024
        if group == "beta":  # uniform ordered easy pair, rejected when same class
            i, j = rng.choice(easy_idx, m), rng.choice(easy_idx, m)
            ok = labels[i] != labels[j]
        else:  # i difficult, j anything: uniform over unordered pairs once both-difficult pairs are halved
            i, j = rng.choice(hard_idx, m), rng.integers(0, n, m)
            ok = (labels[i] != labels[j]) & (~hard[j] | (rng.random(m) < 0.5))
        i, j = i[ok][: max_pairs - have], j[ok][: max_pairs - have]
        for s in range(0, i.size, 8192):  # small gathers stay in cache
            got.append((x[i[s : s + 8192]] * x[j[s : s + 8192]]).sum(1, dtype=np.float64))
        have += i.size
    return np.concatenate(got)


def _checked_labels(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``labels`` as (N,) int64 after checking they match (N, D) ``features`` and none is -1."""
    labels = np.asarray(labels).astype(np.int64)
    if np.ndim(features) != 2 or labels.shape != (np.shape(features)[0],):
        raise HardpairsError(f"features must be (N, D) with N labels; got {np.shape(features)} and {labels.shape}.")
    if (labels < 0).any():
        raise HardpairsError(
            "alpha/beta/gamma need a label for every sample; this dataset has unlabelled "
            "samples (-1), so the theory analysis is unavailable for it."
        )
    return labels


@dataclass(frozen=True)
class _PairSums:
    """Sums of x_i . x_j (float64) and counts over ordered pair sets (i != j) of one feature set."""

    same_sum: float  # same-class pairs
    same_cnt: float
    cross_sum: float  # cross-class pairs
    cross_cnt: float
    easy_sum: float  # cross-class pairs with no difficult sample
    easy_cnt: float
    both_sum: float  # cross-class pairs of two difficult samples
    both_cnt: float
    class_sizes: np.ndarray  # (C,) int64 samples per class
    n_hard: np.ndarray  # (C,) float64 difficult samples per class

    @property
    def gamma_cnt(self) -> float:
        """Cross-class pairs with at least one difficult sample."""
        return self.cross_cnt - self.easy_cnt


def _pair_sums(x: np.ndarray, labels: np.ndarray, hard: np.ndarray) -> _PairSums:
    """Pair-set sums of (N, D) unit features ``x`` from per-class sums, no N x N matrix.

    ``labels``: (N,) int64; ``hard``: (N,) bool difficult flags. Raises when there are fewer than
    two classes or a pair set is empty.
    """
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size < 2:
        raise HardpairsError("alpha/beta/gamma need at least two classes in the labels.")
    d = x.shape[1]
    s_all, s_easy, s_hard = (np.zeros((classes.size, d)) for _ in range(3))
    n_easy, n_hard = np.zeros(classes.size), np.zeros(classes.size)
    same_sum, same_cnt = 0.0, 0.0
    for ci, c in enumerate(classes):
        xc, hc = x[labels == c], hard[labels == c]
        s_all[ci] = xc.sum(0, dtype=np.float64)
        s_hard[ci] = xc[hc].sum(0, dtype=np.float64)
        s_easy[ci] = s_all[ci] - s_hard[ci]
        n_hard[ci], n_easy[ci] = hc.sum(), (~hc).sum()
        same_sum += float(s_all[ci] @ s_all[ci]) - float(np.einsum("nd,nd->", xc, xc, dtype=np.float64))
        same_cnt += float(counts[ci]) * (counts[ci] - 1)
    sums = _PairSums(
        same_sum,
        same_cnt,
        *_cross_sum(s_all, counts.astype(np.float64)),
        *_cross_sum(s_easy, n_easy),
        *_cross_sum(s_hard, n_hard),
        class_sizes=counts,
        n_hard=n_hard,
    )
    if same_cnt == 0 or sums.easy_cnt == 0 or sums.gamma_cnt == 0:
        raise HardpairsError(
            "too few samples per class for alpha/beta/gamma: each class needs >= 2 "
            "samples and some non-difficult ones; lower --difficult-share or use more data."
        )
    return sums


def estimate_abg(
    features: np.ndarray,
    labels: np.ndarray,
    probe_proba: np.ndarray,
    difficult_share: float = 0.08,
    max_pairs: int = 2_000_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure alpha, beta, gamma on real features as in the paper's App. A.5.

    Cosine similarity of L2-normalised features. Difficult samples come from ``difficult_mask``.
    ``alpha``: mean over same-class pairs (i != j); ``beta``: cross-class pairs with no difficult
    sample; ``gamma``: cross-class pairs containing *at least one* difficult sample;
    ``gamma_both``: cross-class pairs where *both* are difficult (the model's literal gamma).
    Means are exact and need no N x N matrix: a pair-set sum is ``|sum x|^2 - sum_c |sum_c x|^2``
    over per-class sums (float64). The Welch t-test (``scipy.stats.ttest_ind(beta, gamma,
    equal_var=False)``, sign as in the paper's Table 11: negative when gamma > beta) uses every
    pair when a group has at most ``max_pairs`` pairs, else a seeded uniform sample (with
    replacement) of ``max_pairs`` pairs.

    Args:
        features: (N, D) float features (any scale).
        labels: (N,) int labels; at least two classes.
        probe_proba: (N, C) probe probabilities for the same samples.
        difficult_share: share flagged per class (paper: 0.08).
        max_pairs: pair-sample size per group for the t-test.
        seed: seed of that sample.

    Returns:
        dict: alpha, beta, gamma, gamma_both, gamma_minus_beta, t, p, t_test_sampled,
        t_test_pairs_beta, t_test_pairs_gamma, pairs_alpha, pairs_beta, pairs_gamma,
        pairs_gamma_both (unordered pair counts), n_samples, n_classes, n_difficult,
        difficult_share, class_sizes, difficult_per_class.
    """
    labels = _checked_labels(features, labels)
    x = l2_normalise(features)
    hard = difficult_mask(labels, probe_proba, difficult_share)
    ps = _pair_sums(x, labels, hard)
    rng = np.random.default_rng(seed)
    beta_s = _pair_sample(x, labels, hard, "beta", int(ps.easy_cnt // 2), max_pairs, rng)
    gamma_s = _pair_sample(x, labels, hard, "gamma", int(ps.gamma_cnt // 2), max_pairs, rng)
    test = stats.ttest_ind(beta_s, gamma_s, equal_var=False)
    alpha, beta = float(ps.same_sum / ps.same_cnt), float(ps.easy_sum / ps.easy_cnt)
    gamma = float((ps.cross_sum - ps.easy_sum) / ps.gamma_cnt)
    return {
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
        "gamma_both": float(ps.both_sum / ps.both_cnt) if ps.both_cnt else float("nan"),
        "gamma_minus_beta": gamma - beta,
        "t": float(test.statistic),
        "p": float(test.pvalue),
        "t_test_sampled": bool(max(ps.easy_cnt, ps.gamma_cnt) // 2 > max_pairs),
        "t_test_pairs_beta": int(beta_s.size),
        "t_test_pairs_gamma": int(gamma_s.size),
        "pairs_alpha": int(ps.same_cnt // 2),
        "pairs_beta": int(ps.easy_cnt // 2),
        "pairs_gamma": int(ps.gamma_cnt // 2),
        "pairs_gamma_both": int(ps.both_cnt // 2),
        "n_samples": int(x.shape[0]),
        "n_classes": int(ps.class_sizes.size),
        "n_difficult": int(hard.sum()),
        "difficult_share": float(difficult_share),
        "class_sizes": ps.class_sizes.tolist(),
        "difficult_per_class": ps.n_hard.astype(int).tolist(),
    }

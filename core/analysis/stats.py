"""Statistics for honest comparisons of runs (pure numpy/scipy).

Two kinds of uncertainty:

- **over seeds** (:func:`seed_summary`): the mean, the sample std (ddof=1) and a Student-t 95 %
  interval of the mean, ``mean ± t_{0.975, n-1} * std / sqrt(n)`` (:func:`t_interval`, scipy's). With
  one seed the spread is unknown, so std and the interval are undefined (``None``) and the summary says so.
- **over test samples, paired** (:func:`paired_comparison`): two probes of the same test set, run A
  and run B. ``b`` = samples A gets right and B wrong, ``c`` = the reverse. The exact McNemar test is
  the two-sided binomial test of ``min(b, c)`` successes in ``b + c`` trials with p = 1/2
  (``scipy.stats.binomtest``). The paired bootstrap resamples the M test samples with replacement and
  recomputes ``acc_A - acc_B``; its 2.5 and 97.5 percentiles are the 95 % interval of the difference.
  The per-sample difference takes only the values -1, 0, 1, so a resample is drawn as multinomial
  counts of those three values (the same distribution as drawing M indices, in O(1) per resample).

:func:`verdict` reads an interval of a difference: "better" (entirely above 0), "worse" (entirely
below 0) or "within noise" (it contains 0).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from core.errors import HardpairsError

#: The verdicts of :func:`verdict`.
VERDICTS = ("better", "worse", "within noise")
N1_NOTE = "n=1: one seed, so the spread and the interval are undefined; repeat over more seeds"


@dataclass(frozen=True)
class SeedSummary:
    """Mean over seeds; ``std``/``ci_low``/``ci_high`` are None when n < 2 (``note`` says why)."""

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_summary(values: Any, confidence: float = 0.95) -> SeedSummary:
    """Mean, sample std and Student-t interval of per-seed values.

    Args:
        values: (n,) float, one value per seed (NaN not allowed). confidence: interval level.

    Raises:
        HardpairsError: no values, or a NaN/inf among them.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(x) == 0:
        raise HardpairsError("no values to summarise; pass one accuracy per seed")
    if not np.isfinite(x).all():
        raise HardpairsError("a value to summarise is NaN or inf; re-probe the run that produced it")
    mean = float(x.mean())
    if len(x) == 1:
        return SeedSummary(1, mean, None, None, None, N1_NOTE)
    std = float(x.std(ddof=1))
    low, high = t_interval(mean, std, len(x), confidence)
    return SeedSummary(len(x), mean, std, low, high, None)


def t_interval(mean: float, std: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of a mean from its sample std over n > 1 values (``scipy.stats.t.interval``).

    THE t-interval of the project: every interval over seeds or runs is this one.
    """
    if n < 2:
        raise HardpairsError(f"a t-interval needs at least 2 values (got {n}); repeat over more seeds")
    if std == 0:
        return mean, mean
    low, high = sps.t.interval(confidence, n - 1, loc=mean, scale=std / math.sqrt(n))
    return float(low), float(high)


def discordant(correct_a: Any, correct_b: Any) -> tuple[int, int]:
    """``(b, c)``: samples only A gets right, samples only B gets right. Inputs: (M,) bool."""
    a, b = _paired(correct_a, correct_b)
    return int((a & ~b).sum()), int((~a & b).sum())


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of min(b, c) in b + c trials at 1/2 (1.0 when b + c = 0)."""
    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(sps.binomtest(min(int(b), int(c)), n, 0.5).pvalue)


def bootstrap_diff_interval(
    correct_a: Any, correct_b: Any, n_boot: int = 10000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Paired bootstrap percentile interval of ``acc_A - acc_B`` over the M test samples.

    Args:
        correct_a, correct_b: (M,) bool, whether A and B classify each test sample correctly.
        n_boot: resamples. seed: numpy Generator seed (same seed, same interval).

    Returns:
        (low, high) as fractions (multiply by 100 for points).
    """
    a, b = _paired(correct_a, correct_b)
    m = len(a)
    counts = np.array([(~a & b).sum(), (a == b).sum(), (a & ~b).sum()], dtype=np.float64)  # d = -1, 0, +1
    draws = np.random.default_rng(seed).multinomial(m, counts / m, size=int(n_boot))
    diffs = (draws[:, 2] - draws[:, 0]) / m
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def verdict(interval: tuple[float, float] | None) -> str | None:
    """Read a difference interval: "better" (low > 0), "worse" (high < 0), "within noise" (contains 0); None: none."""
    if interval is None:
        return None
    low, high = interval
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "within noise"


def paired_comparison(y_true: Any, pred_a: Any, pred_b: Any, n_boot: int = 10000, seed: int = 0) -> dict[str, Any]:
    """A against B on the same test set: accuracies, difference, McNemar p, bootstrap interval, verdict.

    Args:
        y_true: (M,) int labels. pred_a, pred_b: (M,) int predictions of A and B.

    Returns:
        dict with acc_a, acc_b, diff (= acc_a - acc_b), b, c (discordant counts), mcnemar_p,
        ci_low, ci_high (95 % bootstrap of diff), verdict, n_test, point (= 100 / M, what one test
        image is worth in percentage points).
    """
    y = np.asarray(y_true).ravel()
    pa, pb = np.asarray(pred_a).ravel(), np.asarray(pred_b).ravel()
    if not (len(y) == len(pa) == len(pb)) or len(y) == 0:
        raise HardpairsError(
            f"the predictions do not cover the same test set ({len(pa)} vs {len(pb)} vs {len(y)} labels); "
            "re-probe both runs with `python -m core probe --run-dir R`"
        )
    ca, cb = pa == y, pb == y
    b, c = discordant(ca, cb)
    low, high = bootstrap_diff_interval(ca, cb, n_boot=n_boot, seed=seed)
    return {
        "acc_a": float(ca.mean()),
        "acc_b": float(cb.mean()),
        "diff": float(ca.mean() - cb.mean()),
        "b": b,
        "c": c,
        "mcnemar_p": mcnemar_exact(b, c),
        "ci_low": low,
        "ci_high": high,
        "verdict": verdict((low, high)),
        "n_test": len(y),
        "point": 100.0 / len(y),
    }


def _paired(correct_a: Any, correct_b: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(correct_a, dtype=bool).ravel()
    b = np.asarray(correct_b, dtype=bool).ravel()
    if len(a) != len(b) or len(a) == 0:
        raise HardpairsError(
            f"paired statistics need the same non-empty test set for both runs ({len(a)} vs {len(b)} samples); "
            "re-probe both runs with `python -m core probe --run-dir R`"
        )
    return a, b

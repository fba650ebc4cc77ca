"""The paper's error bounds as pure functions of (alpha, beta, gamma, n, n_d, r, delta) (Sec. 3-4, App. B).

Similarity model (paper Sec. 3.2, App. B Eq. 17-21): ``r + 1`` classes of ``n`` samples each,
``n_d`` of them difficult per class; self-similarity 1, same-class ``alpha``, cross-class pairs
of two difficult samples ``gamma``, every other cross-class pair ``beta``, with
``0 <= beta <= gamma < alpha < 1``. Every bound has the form ``4 delta / (1 - lambda_{k+1}) + 8 delta``
(HaoChen et al. 2021, Thm B.3), so comparing two bounds is comparing their ``lambda_{k+1}``.
The ``lambda_*`` functions return that eigenvalue term, the ``bound_*`` functions the bound.

Known looseness, checked numerically in ``tests/test_theory.py``: for the clean model the
Thm 3.3 eigenvalue is exact. For Thm 3.4 the paper's ``lambda_{k+1}`` mixes two readings of the
gamma block (numerator from index-matched gamma partners, degree ``c1`` from a full
``n_d x n_d`` block), so it is neither the exact eigenvalue of either block matrix nor always
above it; the qualitative claims (worse than clean, worse as gamma - beta grows, equal to clean
at gamma = beta) do hold for the full-block matrix.

The estimates of alpha, beta and gamma from a run's features are in ``core.analysis.theory``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from core.errors import HardpairsError

__all__ = [
    "block_similarity_matrix",
    "lambda_clean",
    "lambda_difficult",
    "lambda_removal",
    "bound_clean",
    "bound_difficult",
    "bound_removal",
    "bound_temperature",
    "removal_threshold",
    "removal_beats_keeping",
    "evaluate_bounds",
    "optimal_margin",
]


def _check(
    alpha: float, beta: float, gamma: float | None, n: float, n_d: float | None, r: int, delta: float | None = None
) -> None:
    """Raise HardpairsError unless the inputs satisfy the model's assumptions."""
    vals = [alpha, beta, n, r] + [v for v in (gamma, n_d, delta) if v is not None]
    if not all(math.isfinite(float(v)) for v in vals):
        raise HardpairsError(
            "theory inputs must be finite numbers; got NaN or inf "
            "(estimate alpha/beta/gamma from a run with `python -m core theory`)."
        )
    g = beta if gamma is None else gamma
    if not (0.0 <= beta <= g < alpha < 1.0):
        raise HardpairsError(
            f"the similarity model needs 0 <= beta <= gamma < alpha < 1, got alpha={alpha:.4g}, "
            f"beta={beta:.4g}, gamma={g:.4g}. Pass cosine similarities (not x100) in that order; "
            "a run whose measured values break it is outside the paper's model."
        )
    if n < 1 or r < 1 or int(r) != r:
        raise HardpairsError(f"need n >= 1 samples per class and an integer r >= 1 (r + 1 classes), got n={n}, r={r}.")
    if n_d is not None and not (0 <= n_d <= n):
        raise HardpairsError(f"need 0 <= n_d <= n difficult samples per class, got n_d={n_d}, n={n}.")
    if delta is not None and not (0.0 <= delta <= 1.0):
        raise HardpairsError(f"delta is a label-recovery error rate in [0, 1], got {delta}.")


def _bound(lam: float, delta: float) -> float:
    """``4 delta / (1 - lam) + 8 delta`` (HaoChen et al. 2021, Thm B.3)."""
    return 4.0 * delta / (1.0 - lam) + 8.0 * delta


def lambda_clean(alpha: float, beta: float, n: float, r: int) -> float:
    """``lambda_{k+1} = (1 - alpha) / c2`` with ``c2 = (1-alpha) + n alpha + n r beta`` (Eq. 3, 22-23).

    Exact for k > r: the spectrum of the normalised adjacency is 1, r copies of
    ``((1-alpha) + n(alpha-beta)) / c2`` and ``(1-alpha) / c2`` for the rest.
    """
    _check(alpha, beta, None, n, None, r)
    return (1.0 - alpha) / ((1.0 - alpha) + n * alpha + n * r * beta)


def lambda_difficult(alpha: float, beta: float, gamma: float, n: float, n_d: float, r: int) -> float:
    """Thm 3.4 eigenvalue term ``((1-alpha) + r(gamma-beta)) / c1`` (Eq. 4).

    ``c1 = (1-alpha) + n alpha + n r beta + n_d r (gamma - beta)`` is a difficult node's degree (Eq. 34).
    Stated for ``r + 1 <= k < n_d + r + 1``, so it needs ``n_d >= 1``.
    """
    _check(alpha, beta, gamma, n, n_d, r)
    if n_d < 1:
        raise HardpairsError(
            "Thm 3.4 needs at least one difficult sample per class (n_d >= 1); with n_d = 0 use bound_clean."
        )
    c1 = (1.0 - alpha) + n * alpha + n * r * beta + n_d * r * (gamma - beta)
    return ((1.0 - alpha) + r * (gamma - beta)) / c1


def lambda_removal(alpha: float, beta: float, n: float, n_d: float, r: int) -> float:
    """Cor 4.1 eigenvalue term: Thm 3.3 with ``n`` replaced by ``n - n_d`` (Eq. 5)."""
    _check(alpha, beta, None, n, n_d, r)
    if n_d >= n:
        raise HardpairsError(f"removing n_d={n_d} of n={n} samples per class leaves none; need n_d < n.")
    return lambda_clean(alpha, beta, n - n_d, r)


def bound_clean(alpha: float, beta: float, n: float, r: int, delta: float) -> float:
    """Thm 3.3 (Eq. 3): ``E_wo <= 4 delta / (1 - (1-alpha)/((1-alpha)+n alpha+n r beta)) + 8 delta``."""
    _check(alpha, beta, None, n, None, r, delta)
    return _bound(lambda_clean(alpha, beta, n, r), delta)


def bound_difficult(alpha: float, beta: float, gamma: float, n: float, n_d: float, r: int, delta: float) -> float:
    """Thm 3.4 (Eq. 4): ``E_wd <= 4 delta / (1 - ((1-alpha)+r(gamma-beta)) / c1) + 8 delta``."""
    _check(alpha, beta, gamma, n, n_d, r, delta)
    return _bound(lambda_difficult(alpha, beta, gamma, n, n_d, r), delta)


def bound_removal(alpha: float, beta: float, n: float, n_d: float, r: int, delta: float) -> float:
    """Cor 4.1 (Eq. 5): Thm 3.3 evaluated on the ``n - n_d`` easy samples per class."""
    _check(alpha, beta, None, n, n_d, r, delta)
    return _bound(lambda_removal(alpha, beta, n, n_d, r), delta)


def bound_temperature(alpha: float, beta: float, gamma: float, n: float, n_d: float, r: int, delta: float) -> float:
    """Thm 4.5 (Eq. 10-11): ``[1 - (n_d/n)^2 + (gamma/beta)^2 (n_d/n)^2] 4 delta / (1 - (1-alpha)/c2) + 8 delta``.

    Holds for the optimal per-pair temperature ``tau = (c1/c2)(beta/gamma)`` on difficult pairs;
    needs ``beta > 0``.
    """
    _check(alpha, beta, gamma, n, n_d, r, delta)
    if beta <= 0:
        raise HardpairsError("Thm 4.5 divides by beta; it needs beta > 0.")
    q = (n_d / n) ** 2
    factor = 1.0 - q + (gamma / beta) ** 2 * q
    return factor * 4.0 * delta / (1.0 - lambda_clean(alpha, beta, n, r)) + 8.0 * delta


def removal_threshold(alpha: float, beta: float, n: float, n_d: float, r: int) -> float:
    """Smallest ``gamma - beta`` above which removal's bound (Cor 4.1) beats Thm 3.4's.

    The paper (v2 sec. 4.1, after Eq. 5, unnumbered) writes the condition as
    ``gamma - beta > n_d (1-alpha)(alpha + r gamma) / (r [(1-alpha) + (n-n_d)(alpha + r beta)])``,
    which has gamma on both sides. Solving it for ``g = gamma - beta`` (``a = 1-alpha``,
    ``S = alpha + r beta``, ``m = n - n_d``) gives the equivalent explicit threshold
    ``g > a n_d S / (r (a + m S - a n_d))``; it equals ``lambda_removal < lambda_difficult``
    exactly. Returns ``inf`` when ``a + m S <= a n_d`` (removal never wins) and 0 for ``n_d = 0``.
    """
    _check(alpha, beta, None, n, n_d, r)
    if n_d >= n:
        raise HardpairsError(f"removing n_d={n_d} of n={n} samples per class leaves none; need n_d < n.")
    a, s, m = 1.0 - alpha, alpha + r * beta, n - n_d
    denom = r * (a + m * s - a * n_d)
    if denom <= 0:
        return math.inf
    return a * n_d * s / denom


def removal_beats_keeping(alpha: float, beta: float, gamma: float, n: float, n_d: float, r: int) -> bool:
    """True when Cor 4.1's bound is strictly below Thm 3.4's, i.e. ``gamma - beta > removal_threshold``."""
    _check(alpha, beta, gamma, n, n_d, r)
    return (gamma - beta) > removal_threshold(alpha, beta, n, n_d, r)


def optimal_margin(alpha: float, beta: float, gamma: float, n: float, n_d: float, r: int) -> dict[str, float]:
    """Thm 4.3 (Eq. 7): the margin on a cross-class pair of two difficult samples that makes ``E_M = E_wo``.

    ``m = c0 (gamma - beta) / (c1^2 c2)`` with ``c0 = (1-alpha) + n alpha + (n-n_d) r beta``, ``c1`` a difficult
    node's degree and ``c2`` an easy one's (Eq. 34). ``m`` lives on the spectral loss's scale, where the
    target of ``f(x)^T f(x')`` is ``w_xx' / (w_x w_x')``, so it is O(1/n^2). Theorem 4.2 subtracts
    ``D^(1/2) M D^(1/2)`` from the normalised adjacency, i.e. ``w_x w_x' m = c1^2 m`` from the pair's similarity
    ``gamma``: that amount, ``margin_similarity = c0 (gamma - beta) / c2``, is on the cosine scale of alpha, beta,
    gamma and of the sigma Eq. 14 adds to ``s_ij``, and leaves the pair at ``beta c1 / c2``. (The proof's
    Eq. 36 prints ``n_d (gamma - beta)`` in ``c1``; the theorem's ``n_d r (gamma - beta)`` is used here.)

    Returns:
        ``margin`` (m), ``margin_similarity``, ``c0``, ``c1``, ``c2``.
    """
    _check(alpha, beta, gamma, n, n_d, r)
    c2 = (1.0 - alpha) + n * alpha + n * r * beta
    c1 = c2 + n_d * r * (gamma - beta)
    c0 = (1.0 - alpha) + n * alpha + (n - n_d) * r * beta
    return {
        "margin": c0 * (gamma - beta) / (c1 * c1 * c2),
        "margin_similarity": c0 * (gamma - beta) / c2,
        "c0": c0,
        "c1": c1,
        "c2": c2,
    }


def evaluate_bounds(
    alpha: float, beta: float, gamma: float, n: float, n_d: float, r: int, delta: float = 0.1
) -> dict[str, Any]:
    """All bounds at one operating point; a bound whose assumptions fail is ``None`` with the reason.

    Returns:
        dict with ``bound_clean, bound_difficult, bound_removal, bound_temperature,
        removal_threshold, removal_beats_keeping, lambda_clean, lambda_difficult, lambda_removal``,
        ``margin_thm43`` and ``margin_similarity_thm43`` (:func:`optimal_margin`)
        and ``bound_errors`` (name -> message).
    """
    calls: dict[str, Callable[[], float | bool]] = {
        "lambda_clean": lambda: lambda_clean(alpha, beta, n, r),
        "lambda_difficult": lambda: lambda_difficult(alpha, beta, gamma, n, n_d, r),
        "lambda_removal": lambda: lambda_removal(alpha, beta, n, n_d, r),
        "bound_clean": lambda: bound_clean(alpha, beta, n, r, delta),
        "bound_difficult": lambda: bound_difficult(alpha, beta, gamma, n, n_d, r, delta),
        "bound_removal": lambda: bound_removal(alpha, beta, n, n_d, r, delta),
        "bound_temperature": lambda: bound_temperature(alpha, beta, gamma, n, n_d, r, delta),
        "removal_threshold": lambda: removal_threshold(alpha, beta, n, n_d, r),
        "removal_beats_keeping": lambda: removal_beats_keeping(alpha, beta, gamma, n, n_d, r),
        "margin_thm43": lambda: optimal_margin(alpha, beta, gamma, n, n_d, r)["margin"],
        "margin_similarity_thm43": lambda: optimal_margin(alpha, beta, gamma, n, n_d, r)["margin_similarity"],
    }
    out: dict[str, Any] = {"bound_errors": {}}
    for name, fn in calls.items():
        try:
            out[name] = fn()
        except HardpairsError as err:
            out[name] = None
            out["bound_errors"][name] = str(err)
    return out


def block_similarity_matrix(
    alpha: float, beta: float, gamma: float, n: int, n_d: int, r: int, gamma_block: str = "full"
) -> np.ndarray:
    """The model's similarity matrix (App. B Eq. 18-21), ``(n (r+1), n (r+1))`` float64.

    Class-major order; the last ``n_d`` samples of each class are difficult. ``gamma_block="full"``
    puts gamma on every cross-class difficult x difficult pair (Eq. 21, degree Eq. 34);
    ``"matched"`` only on pairs with the same within-class position (the Kronecker form of Eq. 24).
    """
    if gamma_block not in ("full", "matched"):
        raise HardpairsError(f"gamma_block must be 'full' or 'matched', got {gamma_block!r}.")
    labels = np.repeat(np.arange(r + 1), n)
    pos = np.tile(np.arange(n), r + 1)
    hard = pos >= n - n_d
    sim = np.where(labels[:, None] == labels[None, :], alpha, beta).astype(np.float64)
    mask = (labels[:, None] != labels[None, :]) & hard[:, None] & hard[None, :]
    if gamma_block == "matched":
        mask &= pos[:, None] == pos[None, :]
    sim[mask] = gamma
    np.fill_diagonal(sim, 1.0)
    return sim

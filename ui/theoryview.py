"""What the Theory page computes for display: calculator defaults, the bound curve, the verdict.

Pure functions (no Streamlit calls) on top of ``core.analysis.bounds``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.analysis import bounds

#: (metric title, key of ``bounds.evaluate_bounds``) of the three bounds the calculator shows
BOUND_METRICS = (
    ("Thm 3.3: no difficult", "bound_clean"),
    ("Thm 3.4: keep difficult", "bound_difficult"),
    ("Cor 4.1: remove them", "bound_removal"),
)


def finite_or(value: Any, default: float) -> float:
    """``float(value)`` when it is a finite number, else ``default``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def calculator_defaults(th: Mapping[str, Any]) -> dict[str, float]:
    """Slider/input defaults from theory.json, clipped to the widgets' ranges (fallbacks when missing)."""
    return {
        "alpha": float(np.clip(finite_or(th.get("alpha"), 0.6), 0, 0.999)),
        "beta": float(np.clip(finite_or(th.get("beta"), 0.1), -1, 0.999)),
        "gamma": float(np.clip(finite_or(th.get("gamma"), 0.3), -1, 0.999)),
        "n": max(2.0, finite_or(th.get("n"), 1000.0)),
        "n_d": max(0.0, finite_or(th.get("n_d"), 80.0)),
        "r": float(max(1, round(finite_or(th.get("r"), 9)))),
        "delta": float(np.clip(finite_or(th.get("delta"), 0.1), 0, 0.5)),
    }


def gap_axis_end(admissible: float, threshold: float, current: float) -> float:
    """Right end of the gamma - beta axis: zoom onto the threshold when it is small."""
    top = admissible * 0.999
    if math.isfinite(threshold) and threshold < top:
        top = min(top, max(4.0 * threshold, 1.5 * max(current, 0.0)))
    return max(top, 1e-6)


@dataclass(frozen=True)
class BoundCurve:
    """Thm 3.4's bound along gamma - beta: gaps (P,) and bounds (P,) float64, with the flat lines."""

    gaps: np.ndarray
    difficult: np.ndarray
    clean: float
    removal: float


def bound_curve(
    alpha: float,
    beta: float,
    n: float,
    n_d: float,
    r: int,
    delta: float,
    threshold: float,
    gap: float,
    points: int = 200,
) -> BoundCurve:
    """The Thm 3.4 bound at ``points`` gaps from 0 to :func:`gap_axis_end`, and the Thm 3.3 and
    Cor 4.1 bounds (which do not depend on gamma)."""
    gaps = np.linspace(0.0, gap_axis_end(alpha - beta, threshold, gap), points)
    diff = np.array([bounds.bound_difficult(alpha, beta, beta + g, n, n_d, r, delta) for g in gaps], np.float64)
    return BoundCurve(
        gaps=gaps,
        difficult=diff,
        clean=bounds.bound_clean(alpha, beta, n, r, delta),
        removal=bounds.bound_removal(alpha, beta, n, n_d, r, delta),
    )


def bound_delta(value: float | None, clean: float | None, key: str) -> str | None:
    """A bound's metric delta against Thm 3.3 (``"+0.0123 vs Thm 3.3"``); None for Thm 3.3 itself or a
    missing bound."""
    if value is None or clean is None or key == "bound_clean":
        return None
    return f"{value - clean:+.3g} vs Thm 3.3"


def removal_verdict(gap: float, threshold: float, beats: bool) -> str:
    """The sentence comparing gamma - beta with the removal threshold (markdown)."""
    thr_text = "∞" if not math.isfinite(threshold) else f"{threshold:.5f}"
    msg = f"γ − β = {gap:.5f} vs removal threshold {thr_text}: "
    if beats:
        return msg + "**removing the difficult examples gives the tighter bound.**"
    return (
        msg + "**keeping them gives the tighter bound** (too few or too mild difficult pairs for removal to pay off)."
    )


def monitor_claim(frame: pd.DataFrame) -> tuple[int, int]:
    """(epochs where H-SCL <= H-UCL, epochs that logged both) of a monitor frame."""
    scl = "hard_scl"  # monitor columns (see ui.figures.MONITOR_NAMES)
    ucl = "hard_ucl"
    both = frame[[scl, ucl]].dropna()
    return int((both[scl] <= both[ucl]).sum()), len(both)

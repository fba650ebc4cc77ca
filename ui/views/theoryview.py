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
        "n": float(max(2, round(finite_or(th.get("n"), 1000.0)))),
        "n_d": float(max(0, round(finite_or(th.get("n_d"), 80.0)))),
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


#: relative difference below which two bounds are "equal at this precision" (shown with 4 decimals)
EQUAL_REL = 1e-3
#: the bound each metric is compared with (its delta): keeping difficult examples vs clean data, removal vs keeping
DELTA_AGAINST = {"bound_difficult": ("bound_clean", "Thm 3.3"), "bound_removal": ("bound_difficult", "keeping")}
VACUOUS_NOTE = (
    "Bounds above 1 are vacuous: an error rate cannot exceed 1, so these values say nothing about the error "
    "itself. Only the comparison between the bounds (which one is smaller) carries information."
)


def bound_text(value: float | None) -> str:
    """A bound as shown: 4 decimals ("—" when it cannot be computed)."""
    return "—" if value is None else f"{value:.4f}"


def equal_at_precision(a: float, b: float, rel: float = EQUAL_REL) -> bool:
    """True when ``a`` and ``b`` differ by less than ``rel`` relative to the larger magnitude."""
    return abs(a - b) < rel * max(abs(a), abs(b), 1e-12)


def metric_delta(res: Mapping[str, Any], key: str) -> tuple[str | None, str]:
    """(delta text, st.metric delta_color) of bound ``key`` against the bound in ``DELTA_AGAINST``.

    Lower is better for a bound, so the colour is ``"inverse"`` (a smaller bound is green, matching the
    verdict "removal wins"); two bounds equal at 4 decimals / ``EQUAL_REL`` give a grey "equal" text.
    """
    if key not in DELTA_AGAINST:
        return None, "off"
    other, name = DELTA_AGAINST[key]
    value, ref = res.get(key), res.get(other)
    if value is None or ref is None:
        return None, "off"
    if equal_at_precision(value, ref):
        return f"= {name} at this precision", "off"
    return f"{value - ref:+.4f} vs {name}", "inverse"


def bound_error_message(errors: Mapping[str, str]) -> str:
    """One message for the bounds that cannot be computed: which ones, and each distinct reason once
    (messages that differ only in the numbers they quote are one reason; the one quoting gamma is kept)."""
    names = {"bound_clean": "Thm 3.3", "bound_difficult": "Thm 3.4", "bound_removal": "Cor 4.1"}
    names |= {"bound_temperature": "Thm 4.5", "removal_threshold": "the removal threshold"}
    first = ("bound_difficult", "lambda_difficult", "bound_temperature", "removal_beats_keeping")
    reasons: dict[str, str] = {}
    for key in sorted(errors, key=lambda k: (k not in first, k)):
        stem = errors[key].split(", got")[0].split(";")[0]
        reasons.setdefault(stem, errors[key])
    missing = [label for key, label in names.items() if key in errors]
    head = f"Not computable with these values: {', '.join(missing)}. " if missing else ""
    return head + " ".join(reasons.values())


def removal_verdict(res: Mapping[str, Any], gap: float) -> tuple[str, str]:
    """(kind, markdown) of the sentence comparing gamma - beta with the removal threshold.

    ``kind`` is ``"success"`` / ``"warning"`` only when the bounds say something: a "wins" call-out needs
    a non-vacuous bound (≤ 1) on at least one side and bounds that differ at the shown precision; otherwise
    ``"info"`` and a sentence that says the comparison is void. ``res`` is ``bounds.evaluate_bounds``' dict.
    """
    threshold, beats = res.get("removal_threshold"), res.get("removal_beats_keeping")
    thr_text = "∞" if threshold is None or not math.isfinite(threshold) else f"{threshold:.5f}"
    msg = f"γ − β = {gap:.5f} vs removal threshold {thr_text}. "
    keep, drop = res.get("bound_difficult"), res.get("bound_removal")
    if keep is None or drop is None or beats is None:
        return "info", msg + "The bounds needed for the comparison cannot be computed with these values."
    side = "removing the difficult examples" if beats else "keeping them"
    if equal_at_precision(keep, drop):
        return "info", msg + (
            f"In the formulas {side} gives the smaller bound, but the two bounds are equal at this precision "
            f"(they differ by less than {EQUAL_REL:.1%}): no conclusion."
        )
    if min(keep, drop) > 1:
        return "info", msg + (
            f"In the formulas {side} gives the smaller bound, but both bounds are above 1 (vacuous): "
            "they say nothing about the error, so neither choice is supported by them."
        )
    if beats:
        return "success", msg + "**Removing the difficult examples gives the tighter bound.**"
    return "warning", msg + (
        "**Keeping them gives the tighter bound** (too few or too mild difficult pairs for removal to pay off)."
    )


def t_test_text(th: Mapping[str, Any]) -> str:
    """The Welch t-test of beta vs gamma as one sentence with its p-value (``p < 0.001`` below 0.001)."""
    t, p = finite_or(th.get("t"), float("nan")), finite_or(th.get("p"), float("nan"))
    if math.isnan(t):
        return "Welch t-test (β vs γ): not computed for this run."
    return (
        f"Welch t-test, β vs γ: t = {t:.2f}, {p_text(p)}. It tests whether difficult cross-class pairs are more "
        "similar than easy ones (γ > β gives a negative t, as in the paper's Table 11); it says nothing about "
        "whether the difference matters for accuracy."
    )


def p_text(p: float) -> str:
    """``"p < 0.001"`` or ``"p = 0.012"``: :func:`core.reports.summary.format_p`, the one p-value format."""
    from core.reports.summary import format_p

    text = format_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def narrow_axis_note(values: np.ndarray, rel: float = 0.01) -> str | None:
    """A zoom warning when a chart's y values span less than ``rel`` of their magnitude (the axis is
    stretched, so small differences look large); None otherwise. ``values``: (P,) float."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < rel * max(abs(lo), abs(hi), 1e-12):
        return (
            f"Zoomed axis: the curves span only {lo:.5f}–{hi:.5f} ({(hi - lo) / max(abs(hi), 1e-12):.2%}); "
            "differences this small look large here."
        )
    return None


def monitor_claim(frame: pd.DataFrame) -> tuple[int, int]:
    """(epochs where H-SCL <= H-UCL, epochs that logged both) of a monitor frame."""
    scl = "hard_scl"  # monitor columns (see core.figures.theory.MONITOR_NAMES)
    ucl = "hard_ucl"
    both = frame[[scl, ucl]].dropna()
    return int((both[scl] <= both[ucl]).sum()), len(both)

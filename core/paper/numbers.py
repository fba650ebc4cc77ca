"""A set of runs beside the paper's numbers (``recipes/paper_numbers.json``): mean, 95% interval, delta.

Runs are matched to a paper row by their folder name, which the recipes set to
``<table>-<row with / as ->-s<seed>`` (e.g. ``table1-cifar10-baseline-s0``). Accuracies in
``metrics.json`` are fractions; the paper's are percentages, so ours are shown x100.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import HardpairsError
from core.paper.recipes import RECIPES_DIR

COLUMNS = [
    "table", "row", "metric", "paper", "protocol", "n_seeds", "mean", "std", "ci95_low", "ci95_high", "delta", "note",
]  # fmt: skip
#: the probe protocol the paper's numbers were measured with (minibatch SGD, App. A.3/A.5): only runs probed the
#: same way get a delta; others are listed as not comparable (issue 22: like with like)
PAPER_PROTOCOL = "paper"
LINEAR = "linear_acc"
#: theory.json keys set beside the paper (Tables 10, 11) -> the factor to the paper's scale (similarities x100)
THEORY_SCALE = {
    "alpha": 100.0, "beta": 100.0, "gamma": 100.0, "gamma_minus_beta": 100.0, "t": 1.0, "p": 1.0, "eigenvalue_e5": 1.0,
}  # fmt: skip
NO_PROBE = "—"  # the protocol column of a theory metric: no probe involved
#: theory metrics shown beside the paper without a delta, and why (docs/paper-fidelity.md, Table 10's row)
NOT_COMPARABLE = {
    "eigenvalue_e5": "not comparable: the paper's values fit Eq. 4 only at n of about 10,685 per class "
    "(its n is unstated; a run uses its own): compare the trend over the mixing ratios, not the values",
}


def paper_numbers(path: Path | None = None) -> list[dict[str, Any]]:
    """The rows of ``recipes/paper_numbers.json`` (table, row, dataset, method, metric, value)."""
    try:
        rows: list[dict[str, Any]] = json.loads((path or RECIPES_DIR / "paper_numbers.json").read_text())["rows"]
    except (OSError, ValueError, KeyError) as err:
        raise HardpairsError(f"recipes/paper_numbers.json is unreadable ({err}); restore it from git") from None
    return rows


def mean_interval(values: list[float]) -> tuple[float, float, float, float]:
    """(mean, sample std, low, high) of a Student-t 95% interval (``core.analysis.stats.seed_summary``);
    std/interval NaN for fewer than 2 values."""
    from core.analysis.stats import seed_summary

    if not values or not all(math.isfinite(v) for v in values):
        return math.nan, math.nan, math.nan, math.nan
    s = seed_summary(values)
    if s.std is None or s.ci_low is None or s.ci_high is None:
        return s.mean, math.nan, math.nan, math.nan
    return s.mean, s.std, s.ci_low, s.ci_high


def beside_paper(runs: dict[str, dict[str, Any]], table: str | None = None) -> pd.DataFrame:
    """One line per (paper row, probe protocol) that has matching runs.

    Args:
        runs: run folder name -> its ``metrics.json`` (``linear_acc`` as a fraction, ``protocol``; a metrics file
            without ``protocol`` was probed with L-BFGS), with its ``theory.json`` under ``"theory"`` when it has one
            (alpha, beta, gamma, gamma_minus_beta as cosine similarities, t, p: set beside Tables 10 and 11).
        table: only this table's rows (None: all).

    Returns:
        DataFrame with :data:`COLUMNS`; ``mean``/``std``/interval/``delta`` on the paper's scale (points).
        ``delta`` is set only for runs probed with the paper's protocol (:data:`PAPER_PROTOCOL`); other runs get
        NaN and a ``note`` "not comparable: probed with X". Runs of two protocols are never averaged together.
        A metric in :data:`NOT_COMPARABLE` (Table 10's eigenvalue) gets no delta and its note.
    """
    out = []
    for p in paper_numbers():
        if (table and p["table"] != table) or p["metric"] not in (LINEAR, *THEORY_SCALE):
            continue
        prefix = f"{p['table']}-{p['row'].replace('/', '-')}-s"
        mine = [m for name, m in sorted(runs.items()) if name.startswith(prefix) and name[len(prefix) :].isdigit()]
        for protocol, vals in _values(mine, p["metric"]):
            mean, std, lo, hi = mean_interval(vals)
            same = protocol in (PAPER_PROTOCOL, NO_PROBE) and p["metric"] not in NOT_COMPARABLE
            delta = mean - p["value"] if same else math.nan
            note = (
                ""
                if same
                else NOT_COMPARABLE.get(
                    p["metric"], f"not comparable: probed with {protocol}, the paper with minibatch SGD"
                )
            )
            out.append(
                [p["table"], p["row"], p["metric"], p["value"], protocol, len(vals), mean, std, lo, hi, delta, note]
            )
    return pd.DataFrame(out, columns=COLUMNS)


def _values(metrics: list[dict[str, Any]], metric: str) -> list[tuple[str, list[float]]]:
    """[(probe protocol, our values on the paper's scale)] of one paper row: accuracies x100 per protocol (the
    paper's protocol first), theory metrics (from ``metrics["theory"]``, a run's theory.json) under NO_PROBE."""
    if metric in THEORY_SCALE:
        vals = [THEORY_SCALE[metric] * float(m["theory"][metric]) for m in metrics if _finite(m.get("theory"), metric)]
        return [(NO_PROBE, vals)] if vals else []
    by_protocol: dict[str, list[float]] = {}
    for m in metrics:
        if _finite(m, LINEAR):
            by_protocol.setdefault(str(m.get("protocol") or "lbfgs"), []).append(100.0 * float(m[LINEAR]))
    return sorted(by_protocol.items(), key=lambda kv: kv[0] != PAPER_PROTOCOL)


def _finite(d: Any, key: str) -> bool:
    """Whether ``d[key]`` is a finite number."""
    try:
        return isinstance(d, dict) and math.isfinite(float(d[key]))
    except (KeyError, TypeError, ValueError):
        return False


def beside_paper_for(run_dirs: Sequence[str | Path], table: str | None = None) -> pd.DataFrame:
    """:func:`beside_paper` of these run folders: each one's ``metrics.json`` with its ``theory.json`` under
    ``"theory"`` (the one reader for the Compare page and the report)."""
    from core.io import read_json

    runs: dict[str, dict[str, Any]] = {}
    for d in run_dirs:
        metrics = read_json(Path(d) / "metrics.json", {}) or {}
        theory = read_json(Path(d) / "theory.json", {}) or {}
        runs[Path(d).name] = {**metrics, "theory": theory} if isinstance(metrics, dict) else {"theory": theory}
    return beside_paper(runs, table)

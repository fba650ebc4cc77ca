"""A set of runs beside the paper's numbers (``recipes/paper_numbers.json``): mean, 95% interval, delta.

Runs are matched to a paper row by their folder name, which the recipes set to
``<table>-<row with / as ->-s<seed>`` (e.g. ``table1-cifar10-baseline-s0``). Accuracies in
``metrics.json`` are fractions; the paper's are percentages, so ours are shown x100.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import HardpairsError
from core.paper.recipes import RECIPES_DIR

COLUMNS = ["table", "row", "metric", "paper", "n_seeds", "mean", "std", "ci95_low", "ci95_high", "delta"]


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
    """One line per paper row that has matching runs.

    Args:
        runs: run folder name -> its ``metrics.json`` (``linear_acc`` as a fraction).
        table: only this table's rows (None: all).

    Returns:
        DataFrame with :data:`COLUMNS`; ``mean``/``std``/interval/``delta`` in percentage points.
    """
    out = []
    for p in paper_numbers():
        if (table and p["table"] != table) or p["metric"] != "linear_acc":
            continue
        prefix = f"{p['table']}-{p['row'].replace('/', '-')}-s"
        vals = [
            100.0 * float(m["linear_acc"])
            for name, m in sorted(runs.items())
            if name.startswith(prefix) and name[len(prefix) :].isdigit() and m.get("linear_acc") is not None
        ]
        if not vals:
            continue
        mean, std, lo, hi = mean_interval(vals)
        out.append([p["table"], p["row"], p["metric"], p["value"], len(vals), mean, std, lo, hi, mean - p["value"]])
    return pd.DataFrame(out, columns=COLUMNS)

"""Seed-to-seed noise of a comparison: the second source of noise beside the paired test's test-set noise.

The paired bootstrap of ``core.reports.compare.pair_table`` says how much one pair's difference would
move with another draw of *test images*. Training with another seed moves an accuracy too, often by
more. A comparison (a pruned configuration against its parent or its random twin, on one metric) over
n seeds is folded by ``core.reports.summary.comparisons``: its per-seed paired differences d_1..d_n,
their mean and the Student-t 95 % interval of that mean (THE interval over seeds). From the same
numbers this module adds:

- ``std``: the seed-to-seed std of the differences (ddof = 1);
- the **minimal detectable difference** of n seeds, ``t_{0.975, n-1} · std / sqrt(n)`` (the interval's
  half-width): a mean difference smaller than that has an interval that contains 0 whatever its sign,
  and :func:`seeds_needed`, the seeds a difference of the observed size would need;
- :func:`combined_verdict`: the verdict of one seed pair under both noises (the larger wins).

All values are fractions (x 100 = points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis.stats import seed_summary, t_interval
from core.reports.summary import comparisons

#: the most seeds :func:`seeds_needed` looks for.
MAX_SEEDS = 50


@dataclass(frozen=True)
class SeedNoise:
    """The seed-to-seed side of one comparison (fractions; None where the seeds cannot say)."""

    diff: float | None
    low: float | None
    high: float | None
    std: float | None
    n: int
    mdd: float | None
    needed: int | None


def min_detectable(std: float, n: int) -> float:
    """Half-width of the Student-t 95 % interval (``core.analysis.stats.t_interval``) of a mean difference over
    ``n`` >= 2 seeds with seed std ``std``."""
    return t_interval(0.0, std, n)[1]


def seeds_needed(diff: float, std: float) -> int | None:
    """The fewest seeds whose :func:`min_detectable` is below ``|diff|`` (None above :data:`MAX_SEEDS`)."""
    for n in range(2, MAX_SEEDS + 1):
        if min_detectable(std, n) < abs(diff):
            return n
    return None


def seed_noise(row: dict[str, Any]) -> SeedNoise:
    """The seed noise of one comparison (a row of ``core.reports.summary.comparisons``)."""
    diffs = [float(d) for d in row.get("diffs") or [] if isinstance(d, (int, float)) and math.isfinite(d)]
    n = len(diffs)
    if n < 2:
        return SeedNoise(float(np.mean(diffs)) if diffs else None, None, None, None, n, None, None)
    s = seed_summary(diffs)  # THE interval over seeds; its half-width is what n seeds can detect
    assert s.std is not None and s.ci_low is not None and s.ci_high is not None  # n >= 2
    return SeedNoise(s.mean, s.ci_low, s.ci_high, s.std, n, s.ci_high - s.mean, seeds_needed(s.mean, s.std))


def combined_verdict(test_verdict: Any, noise: SeedNoise) -> str:
    """The verdict of one seed pair under both noises (the larger wins).

    ``test_verdict``: the paired test's ("better", "worse", "within noise"; None: no test). Returns
    "no test", "within noise" (the test-set interval contains 0), "within seed noise" (the interval over
    seeds does), "better"/"worse" (both intervals agree), "better (seed noise unknown)" (one seed), or
    "seeds disagree" (the interval over seeds excludes 0 on the other side).
    """
    if not isinstance(test_verdict, str):
        return "no test"
    if test_verdict == "within noise":
        return "within noise"
    if noise.low is None or noise.high is None:
        return f"{test_verdict} (seed noise unknown)"
    if noise.low <= 0 <= noise.high:
        return "within seed noise"
    return test_verdict if (noise.low > 0) == (test_verdict == "better") else "seeds disagree"


def detect_note(noise: SeedNoise) -> str:
    """What the seeds can detect, in one sentence (empty when there are fewer than 2 seeds)."""
    if noise.mdd is None or noise.diff is None:
        return ""
    size = f"{abs(100 * noise.diff):.2f} pp"
    std = 100 * (noise.std or 0.0)
    text = f"{noise.n} seeds detect only differences above ±{100 * noise.mdd:.2f} pp (seed std {std:.2f} pp)"
    if noise.needed is None:
        return text + f"; {size} would need more than {MAX_SEEDS} seeds."
    if noise.needed > noise.n:
        return text + f"; {size} would need about {noise.needed} seeds."
    return text + "."


#: the columns :func:`add_seed_noise` adds to a pair table.
NOISE_COLUMNS = ["label_a", "seed_diff", "seed_low", "seed_high", "seed_std", "n_seeds", "mdd", "needed",
                 "final_verdict"]  # fmt: skip


def add_seed_noise(pairs: Any, groups: Any) -> Any:
    """``pairs`` (``core.reports.compare.pair_table``) with :data:`NOISE_COLUMNS`: each row's pruned
    configuration (``label_a``, from ``groups``: ``core.reports.compare.group_table``), the seed noise of
    its comparison (:func:`seed_noise`) and its verdict under both noises."""
    folded = comparisons(pairs, groups, metric=None)
    noise = {(r["label"], r["against"], r["metric"]): seed_noise(r) for r in folded.to_dict(orient="records")}
    label = {rid: str(g["label"]) for g in groups.to_dict(orient="records") for rid in g["run_ids"]}
    out = pairs.copy()
    labels = [label.get(r, r) for r in pairs["run_id"]]
    found = [noise.get((lab, a, m), SeedNoise(None, None, None, None, 0, None, None))
             for lab, a, m in zip(labels, pairs["against"], pairs["metric"], strict=True)]  # fmt: skip
    out["label_a"] = labels
    for col, attr in (("seed_diff", "diff"), ("seed_low", "low"), ("seed_high", "high"), ("seed_std", "std"),
                      ("n_seeds", "n"), ("mdd", "mdd"), ("needed", "needed")):  # fmt: skip
        out[col] = [getattr(f, attr) for f in found]
    out["final_verdict"] = [combined_verdict(v, f) for v, f in zip(pairs["verdict"], found, strict=True)]
    return out

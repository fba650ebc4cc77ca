"""What the pages show about a run's ground truth: the score ranking by AUROC and what a pruned set catches.

Pure functions (no Streamlit calls) over ``core.audit.groundtruth`` (THE ground truth, THE per-score AUROC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from core.analysis.scoretable import score_label
from core.audit.groundtruth import Caught

#: The "Ground truth" picker's entry for a run without one.
NO_TRUTH = "none"


def truth_options(auto: str | None, tags: Mapping[str, int]) -> list[str]:
    """Ground-truth choices: the run's own (``mixed`` / ``noisy``) first, then every tag as ``tag:NAME``."""
    return ([auto] if auto else []) + [f"tag:{t}" for t in tags]


def ranked_scores(columns: Sequence[str], aurocs: Mapping[str, float]) -> list[str]:
    """Score columns best AUROC first (``aurocs`` is ordered so); columns without an AUROC keep their order after."""
    ranked = [s for s in aurocs if s in columns]
    return ranked + [c for c in columns if c not in ranked]


def score_option(name: str, aurocs: Mapping[str, float]) -> str:
    """A score picker's label: ``cross_class (label-aware) · AUROC 0.970`` (the label alone without one)."""
    value = aurocs.get(name)
    if value is None or not np.isfinite(value):
        return score_label(name)
    return f"{score_label(name)} · AUROC {value:.3f}"


def option_label(name: str, aurocs: Mapping[str, float]) -> str:
    """A picker's label: a score with its AUROC (:func:`score_option`), any other choice as it is. Bind
    ``aurocs`` with ``functools.partial``: a picklable ``format_func`` (the app's session state is pickled)."""
    return score_option(name, aurocs) if name in aurocs else name


def auroc_frame(aurocs: Mapping[str, float], chosen: str | None) -> pd.DataFrame:
    """The ranking as a table: rank, score, AUROC (float), and ``chosen`` marked ``◀``."""
    names = list(aurocs)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(names) + 1),
            "score": names,
            "AUROC": [float(aurocs[n]) for n in names],
            "chosen": ["◀" if n == chosen else "" for n in names],
        }
    )


def best_line(aurocs: Mapping[str, float], what: str, n_true: int, n: int) -> str:
    """``Ground truth: Mixed-ω images (72 of 1,437). cross_class ranks them best (AUROC 0.970).``"""
    from core.audit.groundtruth import best_score

    head = f"Ground truth: {what} ({n_true:,} of {n:,})."
    best = best_score(dict(aurocs))
    if best is None:
        return head
    return f"{head} **{best}** ranks them best (AUROC {aurocs[best]:.3f}; 0.5 = chance, 1 = perfect)."


def caught_line(c: Caught, badge: str, chosen: str = "pruned") -> str:
    """``12 of the 36 pruned are mixed (precision 33%; at random 20%); they are 17% of the 72 mixed (recall).``

    ``chosen`` names the set (``pruned``, ``selected``); "at random" is the precision of a random set (the base rate).
    """
    if c.pruned == 0:
        return f"Nothing is {chosen}, so nothing {badge} is caught."
    base = c.positives / max(c.total, 1)
    return (
        f"{c.hits:,} of the {c.pruned:,} {chosen} are {badge} (precision {c.precision:.0%}; at random "
        f"{base:.0%}); they are {c.recall:.0%} of the {c.positives:,} {badge} (recall)."
    )

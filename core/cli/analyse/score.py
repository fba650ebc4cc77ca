"""CLI: ``score --run-dir R`` -- per-sample difficulty scores (the rows of ``core.analysis.scoretable``).

Writes ``R/scores.csv`` (``index,label``, one column per score, ``mixed`` for a contaminated dataset) and
``R/scores.json`` (the parameters, the band thresholds, and each score's AUROC at finding the mixed
images). Cached: a second call with the same parameters and the same ``features.npz`` returns the stored
result. The work is done by ``core.runs.analysis.scores_for_run``; this handler only parses.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.analysis.approx.sampled import APPROX_MIN_N, KNN_METHODS
from core.cli.checks import int_at_least
from core.runs.analysis import scores_for_run


def add_knn_flag(p: argparse.ArgumentParser) -> None:
    """``--knn exact|approx|auto`` (``score`` and ``pairs``)."""
    p.add_argument(
        "--knn",
        choices=KNN_METHODS,
        default="auto",
        help=f"exact (all pairs), approx (IVF kNN + sampled thresholds), auto = approx above {APPROX_MIN_N:,} samples",
    )


def cmd_score(args: argparse.Namespace) -> dict[str, Any]:
    """``score``: :func:`core.runs.analysis.scores_for_run`."""
    int_at_least("--k", args.k, 1, " neighbours per side")
    int_at_least("--band-reference", args.band_reference, 2, " reference samples")
    int_at_least("--seed", args.seed, 0)
    return scores_for_run(
        args.run_dir, k=args.k, band_reference=args.band_reference, seed=args.seed, force=args.force, knn=args.knn
    )


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``score``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--k", type=int, default=20, help="neighbours per side for cross_class")
    p.add_argument(
        "--band-reference",
        type=int,
        default=None,
        metavar="N",
        help="estimate band against N random reference samples (large datasets)",
    )
    p.add_argument("--seed", type=int, default=None, help="default: the run's seed")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    add_knn_flag(p)
    p.set_defaults(func=cmd_score)

"""CLI: ``pairs --run-dir R`` -- the hardest cross-class pairs and the class-pair map.

Writes ``pairs.csv`` (the top-K definition), ``pairs_band.csv`` (the band definition) and
``class_pairs.npz`` (``difficult_counts``, ``mean_similarity``, ``t_hi`` = Sim_posHigh, ``t_lo`` = Sim_posLow).
``--top K`` and ``--k k`` are the Hard pairs page's "K (top pairs)" and "k (neighbours)" (``?top=K&k=k`` in its
URL). Cached in ``pairs.json`` like ``score`` (other K or k recompute); ``--force`` recomputes. The work
is done by ``core.runs.analysis.pairs_for_run``.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.analyse.score import add_knn_flag
from core.cli.checks import int_at_least
from core.runs.analysis import pairs_for_run


def cmd_pairs(args: argparse.Namespace) -> dict[str, Any]:
    """``pairs``: :func:`core.runs.analysis.pairs_for_run`."""
    int_at_least("--top", args.top, 1, " pairs written to pairs.csv")
    int_at_least("--k", args.k, 1, " other-class neighbours per sample")
    return pairs_for_run(args.run_dir, top=args.top, k=args.k, force=args.force, knn=args.knn)


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``pairs``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument(
        "--top", type=int, default=1000, metavar="K", help="K: the most similar cross-class pairs written to pairs.csv"
    )
    p.add_argument(
        "--k", type=int, default=20, metavar="k", help="k: other-class neighbours per sample (the band's kNN graph)"
    )
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    add_knn_flag(p)
    p.set_defaults(func=cmd_pairs)

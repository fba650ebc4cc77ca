"""CLI: ``theory --run-dir R [--difficult-share 0.08] [--delta 0.1]`` -- alpha/beta/gamma and the paper's bounds.

Fits the linear probe on the train features, flags the difficult samples from its probabilities, measures
alpha, beta, gamma and the Welch t-test, evaluates the bounds at the dataset's n, n_d, r and writes
``R/theory.json``. Cached on (features sha1, parameters); ``--force`` recomputes. The work is done by
``core.runs.theory.theory_for_run``; this handler only parses.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.checks import int_at_least, number_in
from core.runs.theory import theory_for_run


def cmd_theory(args: argparse.Namespace) -> dict[str, Any]:
    """``theory``: :func:`core.runs.theory.theory_for_run`."""
    number_in("--difficult-share", args.difficult_share, 0.0, 1.0, low_open=True, high_open=True)
    number_in("--delta", args.delta, 0.0, 1.0, low_open=True, high_open=True)
    int_at_least("--max-pairs", args.max_pairs, 1, " pairs per group")
    return theory_for_run(args.run_dir, args.difficult_share, args.delta, args.max_pairs, args.force)


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``theory``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--difficult-share", type=float, default=0.08, help="per-class share flagged (paper: 0.08)")
    p.add_argument("--delta", type=float, default=0.1, help="illustrative delta for the bounds")
    p.add_argument("--max-pairs", type=int, default=2_000_000, help="pair sample per group for the t-test")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.set_defaults(func=cmd_theory)

"""CLI: ``compare [--runs-root R] [RUN ...]``: seed groups with 95 % intervals and paired tests of pruned runs.

Prints one JSON object: ``groups`` (mean, std, Student-t interval over seeds per configuration, with its
``label``; a run folder given twice counts once),
``comparisons`` (each pruned child vs its parent and vs random pruning at the same ratio and seed:
McNemar p, bootstrap interval of the difference, verdict), ``protocols`` and ``protocol_mismatch``.
The work is done by ``core.reports.compare.compare_runs``.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.checks import int_at_least


def cmd_compare(args: argparse.Namespace) -> dict[str, Any]:
    """``compare``: :func:`core.reports.compare.compare_runs`."""
    from core.reports.compare import compare_runs

    int_at_least("--bootstrap", args.bootstrap, 100, " resamples")
    int_at_least("--seed", args.seed, 0)
    return compare_runs(args.runs_root, args.runs or None, n_boot=args.bootstrap, seed=args.seed)


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``compare`` (its parser and one-line help come from ``core.cli.COMMANDS``)."""
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="run folders to compare (default: every run; a folder given twice counts once)",
    )
    p.add_argument("--runs-root", help="where run folders live (default $HARDPAIRS_RUNS or cache/runs)")
    p.add_argument("--bootstrap", type=int, default=10000, help="bootstrap resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=cmd_compare)

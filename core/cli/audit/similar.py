"""CLI: ``similar`` -- the training samples most similar to one (``core.audit.similar``; this handler only parses).

``similar --run-dir R --sample ID [--top N] [--tag NAME]``: the top N (default 50) by cosine similarity of
the run's features, most similar first; ``--tag NAME`` also tags them (``run/tags.csv``), so that
``prune --tag NAME`` can remove them. The page twin is the sample view's "Find similar" (pages/sample_view.py).
"""

from __future__ import annotations

import argparse
from typing import Any

from core.audit.similar import similar_for_run
from core.cli.checks import int_at_least


def cmd_similar(args: argparse.Namespace) -> dict[str, Any]:
    """``similar``: rank the dataset by similarity to ``--sample``; tag the top N with ``--tag``."""
    int_at_least("--top", args.top, 1)
    int_at_least("--sample", args.sample, 0)
    return similar_for_run(args.run_dir, args.sample, top=args.top, tag=args.tag)


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``similar``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--sample", type=int, required=True, help="the training sample id to start from")
    p.add_argument("--top", type=int, default=50, help="how many of the most similar samples (default 50)")
    p.add_argument("--tag", metavar="NAME", help="also tag the top N with NAME (run/tags.csv)")
    p.set_defaults(func=cmd_similar)

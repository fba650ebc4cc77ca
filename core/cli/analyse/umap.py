"""CLI: ``umap --run-dir R`` -- the cached embedding map of a run's features (``core.runs.maps.map_for_run``).

``umap --run-dir R [--dim 2|3] [--neighbors 15] [--min-dist 0.1] [--subset N] [--seed 0|none] [--epochs E]
[--fit-size 50000] [--fit-include IDS.txt]``: ``R/umap_2d.csv`` or ``R/umap_3d.csv`` (``index,x,y[,z]``, plus
``fitted`` when subsampled) plus its ``.json`` sidecar; prints ``{"path", "n", "n_fitted", "cached", "seconds",
"params"}``. Above ``--fit-size`` samples UMAP is fitted on a subsample and the rest placed.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from core.analysis.embedmap import FIT_SIZE
from core.cli.checks import int_at_least, number_in
from core.errors import HardpairsError
from core.outputs import read_text_input
from core.runs.maps import map_for_run


def _seed(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed takes an integer or 'none', got {text!r}") from None


def cmd_umap(args: argparse.Namespace) -> dict[str, Any]:
    """``umap``: :func:`core.runs.maps.map_for_run`."""
    int_at_least("--neighbors", args.neighbors, 2, " (UMAP n_neighbors counts the sample itself)")
    number_in("--min-dist", args.min_dist, 0.0, 1.0)
    int_at_least("--subset", args.subset, 2, " samples")
    int_at_least("--epochs", args.epochs, 1)
    int_at_least("--seed", args.seed, 0)
    fit_size = None if args.fit_size == 0 else args.fit_size
    int_at_least("--fit-size", fit_size, 2, " samples (0 = fit on all)")
    include = read_ids(args.fit_include) if args.fit_include else None
    return map_for_run(
        args.run_dir, args.dim, args.neighbors, args.min_dist, args.seed, args.subset, args.epochs, fit_size, include
    )


def read_ids(path: str) -> np.ndarray:
    """Sample ids from a text file (one integer per line, or whitespace/comma separated). (K,) int64."""
    text = read_text_input(path, "--fit-include").replace(",", " ")  # bounded, never blocks (core.outputs)
    try:
        return np.array([int(tok) for tok in text.split()], dtype=np.int64)
    except (OverflowError, ValueError) as err:
        raise HardpairsError(
            f"--fit-include {path}: cannot read sample ids ({err}); give a text file of integers"
        ) from None


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``umap``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument("--dim", type=int, choices=(2, 3), default=2)
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors (self included)")
    p.add_argument("--min-dist", type=float, default=0.1)
    p.add_argument("--subset", type=int, default=None, help="embed a seeded random subset of N samples")
    p.add_argument(
        "--seed", type=_seed, default=0, help="layout seed; 'none' = faster parallel layout that is not repeatable"
    )
    p.add_argument("--epochs", type=int, default=None, help="UMAP epochs (default: 200, or 100 above 20k samples)")
    p.add_argument(
        "--fit-size",
        type=int,
        default=FIT_SIZE,
        help=f"fit UMAP on this many samples and place the rest by their neighbours (default {FIT_SIZE:,}; 0 = all)",
    )
    p.add_argument("--fit-include", default=None, help="text file of sample ids always fitted (tagged/flagged)")
    p.set_defaults(func=cmd_umap)

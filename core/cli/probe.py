"""CLI: ``probe --run-dir R`` -- a run's linear probe and kNN accuracy (``core.runs.pipeline.probe_run``)."""

from __future__ import annotations

import argparse
from typing import Any

from core.rundir.folder import require_run


def cmd_probe(args: argparse.Namespace) -> dict[str, Any]:
    """``probe``: :func:`core.runs.pipeline.probe_run` on the run's features; prints the accuracies."""
    from core.runs.pipeline import probe_run

    run_dir = require_run(args.run_dir)
    metrics = probe_run(run_dir, protocol=args.protocol, knn_k=args.knn_k, knn_t=args.knn_t, knn_preset=args.knn_preset)
    return {
        "run_dir": str(run_dir),
        "linear_acc": metrics["linear_acc"],
        "knn_acc": metrics["knn_acc"],
        "protocol": metrics["protocol"],
        "probe": metrics["probe"],
    }


def register(p: argparse.ArgumentParser) -> None:
    """The flags of ``probe``."""
    p.add_argument("--run-dir", required=True)
    p.add_argument(
        "--protocol",
        choices=("lbfgs", "paper"),
        default="lbfgs",
        help="lbfgs (fast full-batch L-BFGS, default) or paper (minibatch SGD, the paper's batch and lr, "
        "100 epochs cosine); the two give different accuracies",
    )
    p.add_argument("--knn-k", type=int, help="kNN neighbours (default 20; jiang preset 200)")
    p.add_argument("--knn-t", type=float, help="kNN temperature (default 0.07; jiang preset 0.5)")
    p.add_argument("--knn-preset", choices=("default", "jiang"), default="default", help="jiang: k=200, t=0.5")
    p.set_defaults(func=cmd_probe)

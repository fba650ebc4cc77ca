"""CLI: ``probe --run-dir R`` -- a run's linear probe and kNN accuracy (``core.runs.pipeline.probe_run``)."""

from __future__ import annotations

import argparse
import fcntl
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.cli.checks import int_at_least
from core.errors import HardpairsError
from core.rundir.folder import require_run
from core.rundir.lock import busy_message, lock_path

#: kNN temperatures whose weights exp((sim - 1) / t) never all underflow in float64 (usual: 0.07, 0.5)
KNN_T_MIN, KNN_T_MAX = 0.01, 100.0


@contextmanager
def _no_trainer(run_dir: Path) -> Iterator[None]:
    """Hold a shared ``flock`` on the run's ``.lock`` (never written) while probing: refused when a trainer
    holds it, and a trainer cannot start meanwhile (``core.rundir.lock``). No lock file: no trainer ever ran."""
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HardpairsError(busy_message(run_dir)) from None
        except OSError:
            pass  # a file system without flock: trainers run unlocked there too
        yield
    finally:
        os.close(fd)


def cmd_probe(args: argparse.Namespace) -> dict[str, Any]:
    """``probe``: :func:`core.runs.pipeline.probe_run` on the run's features; prints the accuracies."""
    from core.runs.pipeline import probe_run

    run_dir = require_run(args.run_dir)
    int_at_least("--knn-k", args.knn_k, 1)
    t = args.knn_t  # 1e-300 underflows every weight (chance accuracy); inf is not JSON
    if t is not None and not (math.isfinite(t) and KNN_T_MIN <= t <= KNN_T_MAX):
        raise HardpairsError(
            f"--knn-t {t} is not a usable kNN temperature: it needs t > 0, finite, in [{KNN_T_MIN:g}, {KNN_T_MAX:g}] "
            "(below that every weight exp((s - 1) / t) underflows to 0); the usual values are 0.07 and 0.5"
        )
    with _no_trainer(run_dir):  # a trainer holds the run's lock: refused, metrics.json untouched
        metrics = probe_run(
            run_dir, protocol=args.protocol, knn_k=args.knn_k, knn_t=args.knn_t, knn_preset=args.knn_preset
        )
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
    p.add_argument("--knn-t", type=float, help="kNN temperature in [0.01, 100] (default 0.07; jiang preset 0.5)")
    p.add_argument("--knn-preset", choices=("default", "jiang"), default="default", help="jiang: k=200, t=0.5")
    p.set_defaults(func=cmd_probe)

"""CLI: ``umap`` (cached embedding map) and ``theory`` (alpha/beta/gamma and the paper's bounds).

- ``umap --run-dir R [--dim 2|3] [--neighbors 15] [--min-dist 0.1] [--subset N] [--seed 0|none]
  [--epochs E]``: ``R/umap_2d.csv`` or ``R/umap_3d.csv`` (``index,x,y[,z]``) plus its ``.json``
  sidecar; prints ``{"path", "n", "cached", "seconds", "params"}``.
- ``theory --run-dir R [--difficult-share 0.08] [--delta 0.1]``: fits the linear probe on the
  train features, flags the difficult samples from its probabilities, measures alpha, beta,
  gamma and the Welch t-test, evaluates the bounds at the dataset's n, n_d, r and writes
  ``R/theory.json``. Cached on (features sha1, parameters); ``--force`` recomputes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

import numpy as np

from core.analysis.bounds import evaluate_bounds
from core.analysis.embedmap import MapConfig, compute_or_load_map, features_sha1
from core.analysis.theory import estimate_abg
from core.errors import HardpairsError
from core.runs.folder import load_features, read_json, require_run, write_json

DELTA_NOTE = (
    "delta (the label-recovery error of Assumption 3.1) is not measurable from features; "
    "the bounds use an illustrative value. Compare bounds with each other, not with accuracy."
)


def _seed(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed takes an integer or 'none', got {text!r}") from None


def cmd_umap(args: argparse.Namespace) -> dict:
    cfg = MapConfig(
        n_components=args.dim,
        n_neighbors=args.neighbors,
        min_dist=args.min_dist,
        seed=args.seed,
        subset=args.subset,
        n_epochs=args.epochs,
    )
    print(f"umap: {cfg}", file=sys.stderr, flush=True)
    res = compute_or_load_map(args.run_dir, cfg)
    return {
        "path": str(res.path),
        "n": int(len(res.frame)),
        "cached": res.cached,
        "seconds": round(res.seconds, 3),
        "params": asdict(cfg),
    }


def _probe_proba(feats: dict, seed: int) -> tuple[np.ndarray, float]:
    """Train-split probabilities (N, C) of a linear probe fitted on the train split, and its test accuracy."""
    from core.analysis.probe import ProbeConfig, linear_probe_accuracy

    acc, probe = linear_probe_accuracy(
        feats["train"], feats["y_train"], feats["test"], feats["y_test"], ProbeConfig(seed=seed)
    )
    return probe.predict_proba(feats["train"]), acc


def theory_for_run(
    run_dir, difficult_share: float = 0.08, delta: float = 0.1, max_pairs: int = 2_000_000, force: bool = False
) -> dict:
    """Compute-or-load ``theory.json`` for a run (see the module docstring for its keys)."""
    run = require_run(run_dir)
    feats = load_features(run)
    y = np.asarray(feats["y_train"], dtype=np.int64)
    if (y < 0).any():
        raise HardpairsError(
            f"{run} has unlabelled training samples; alpha/beta/gamma need labels, "
            "so the theory analysis is unavailable for this dataset."
        )
    cfg = read_json(run / "config.json", {}) or {}
    seed = int(cfg.get("seed", 0))
    params = {"difficult_share": difficult_share, "delta": delta, "max_pairs": max_pairs, "seed": seed}
    sha1 = features_sha1(feats["train"])
    path = run / "theory.json"
    old = read_json(path)
    if not force and old and old.get("params") == params and old.get("features_sha1") == sha1:
        return old | {"cached": True}
    start = time.perf_counter()
    print("theory: fitting the linear probe on the train features", file=sys.stderr, flush=True)
    proba, acc = _probe_proba(feats, seed)
    est = estimate_abg(feats["train"], y, proba, difficult_share, max_pairs, seed)
    n = float(np.mean(est["class_sizes"]))
    n_d = float(np.mean(est["difficult_per_class"]))
    r = est["n_classes"] - 1
    bounds = evaluate_bounds(est["alpha"], est["beta"], est["gamma"], n, n_d, r, delta)
    out = (
        est
        | bounds
        | {
            "n": n,
            "n_d": n_d,
            "r": r,
            "delta": delta,
            "delta_note": DELTA_NOTE,
            "probe_accuracy": acc,
            "params": params,
            "features_sha1": sha1,
            "seconds": round(time.perf_counter() - start, 3),
            "path": str(path),
            "note": "n and n_d are mean per-class counts; gamma counts cross-class pairs with at least one "
            "difficult sample (gamma_both: both difficult).",
        }
    )
    write_json(path, out)
    return out | {"cached": False}


def cmd_theory(args: argparse.Namespace) -> dict:
    if not 0.0 < args.difficult_share < 1.0:
        raise HardpairsError(f"--difficult-share must be in (0, 1), got {args.difficult_share} (paper: 0.08).")
    return theory_for_run(args.run_dir, args.difficult_share, args.delta, args.max_pairs, args.force)


def register(subparsers) -> None:
    """Add ``umap`` and ``theory`` to the ``python -m core`` parser."""
    p = subparsers.add_parser("umap", help="2D/3D UMAP map of a run's features -> umap_<dim>d.csv")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--dim", type=int, choices=(2, 3), default=2)
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors (self included)")
    p.add_argument("--min-dist", type=float, default=0.1)
    p.add_argument("--subset", type=int, default=None, help="embed a seeded random subset of N samples")
    p.add_argument(
        "--seed", type=_seed, default=0, help="layout seed; 'none' = faster parallel layout that is not repeatable"
    )
    p.add_argument("--epochs", type=int, default=None, help="UMAP epochs (default: 200, or 100 above 20k samples)")
    p.set_defaults(func=cmd_umap)
    p = subparsers.add_parser("theory", help="alpha/beta/gamma, Welch t-test and the bounds -> theory.json")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--difficult-share", type=float, default=0.08, help="per-class share flagged (paper: 0.08)")
    p.add_argument("--delta", type=float, default=0.1, help="illustrative delta for the bounds")
    p.add_argument("--max-pairs", type=int, default=2_000_000, help="pair sample per group for the t-test")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.set_defaults(func=cmd_theory)

"""The theory analysis of a run: alpha/beta/gamma, the Welch t-test and the paper's bounds -> ``theory.json``.

Fits the linear probe on the train features, flags the difficult samples from its probabilities,
measures alpha, beta, gamma and the Welch t-test, and evaluates the bounds at the dataset's
n, n_d, r. Cached by the rule of ``core.rundir.cache`` (features fingerprint + parameters).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.bounds import evaluate_bounds
from core.analysis.theory import estimate_abg
from core.errors import HardpairsError
from core.io import read_json
from core.rundir.cache import cached
from core.rundir.featurefile import feature_labels, open_features, require_features
from core.rundir.folder import require_run

DELTA_NOTE = (
    "delta (the label-recovery error of Assumption 3.1) is not measurable from features; "
    "the bounds use an illustrative value. Compare bounds with each other, not with accuracy."
)


def _probe_proba(feats: dict[str, np.ndarray], seed: int) -> tuple[np.ndarray, float]:
    """Train-split probabilities (N, C) of a linear probe fitted on the train split, and its test accuracy."""
    from core.analysis.probe import ProbeConfig, linear_probe_accuracy

    acc, probe = linear_probe_accuracy(
        feats["train"], feats["y_train"], feats["test"], feats["y_test"], ProbeConfig(seed=seed)
    )
    return probe.predict_proba(feats["train"]), acc


def _compute_theory(run: Path, y: np.ndarray, params: dict[str, Any], path: str) -> dict[str, Any]:
    start = time.perf_counter()
    feats = open_features(run)  # memory-mapped, and only on a cache miss
    print("theory: fitting the linear probe on the train features", file=sys.stderr, flush=True)
    seed, difficult_share, delta = params["seed"], params["difficult_share"], params["delta"]
    proba, acc = _probe_proba(feats, seed)
    est = estimate_abg(feats["train"], y, proba, difficult_share, params["max_pairs"], seed)
    n = float(np.mean(est["class_sizes"]))
    n_d = float(np.mean(est["difficult_per_class"]))
    r = est["n_classes"] - 1
    bounds = evaluate_bounds(est["alpha"], est["beta"], est["gamma"], n, n_d, r, delta)
    extra = {
        "n": n,
        "n_d": n_d,
        "r": r,
        "delta": delta,
        "delta_note": DELTA_NOTE,
        "probe_accuracy": acc,
        # Table 10's "(K+1)-th eigenvalue (x1e-5)" is Thm 3.4's lambda_{k+1} (App. A.5: "the error bound (right
        # hand side of Eq. 4) increases with the eigenvalue"), here at this run's n, n_d, r
        "eigenvalue_e5": None if bounds.get("lambda_difficult") is None else 1e5 * bounds["lambda_difficult"],
        "seconds": round(time.perf_counter() - start, 3),
        "path": path,
        "note": "n and n_d are mean per-class counts; gamma counts cross-class pairs with at least one "
        "difficult sample (gamma_both: both difficult).",
    }
    return dict(est) | dict(bounds) | extra


def theory_for_run(
    run_dir: str | os.PathLike[str],
    difficult_share: float = 0.08,
    delta: float = 0.1,
    max_pairs: int = 2_000_000,
    force: bool = False,
) -> dict[str, Any]:
    """Compute-or-load ``theory.json`` for a run.

    Returns:
        alpha, beta, gamma (and the t-test), the bounds (with Thm 4.3's margin), n, n_d, r, delta,
        ``eigenvalue_e5`` (Table 10's eigenvalue: ``lambda_difficult`` x 1e5), probe_accuracy,
        params, features_sha1, seconds, path, note and ``cached``.

    Raises:
        HardpairsError: ``difficult_share`` outside (0, 1), or unlabelled training samples.
    """
    if not 0.0 < difficult_share < 1.0:
        raise HardpairsError(f"--difficult-share must be in (0, 1), got {difficult_share} (paper: 0.08).")
    run = require_run(run_dir)
    require_features(run)
    y = feature_labels(run)  # the labels only: the features are opened on a cache miss
    if y is None or (y < 0).any():
        raise HardpairsError(
            f"{run} has unlabelled training samples; alpha/beta/gamma need labels, "
            "so the theory analysis is unavailable for this dataset."
        )
    cfg = read_json(run / "config.json", {}) or {}
    params = {
        "difficult_share": difficult_share,
        "delta": delta,
        "max_pairs": max_pairs,
        "seed": int(cfg.get("seed", 0)),
    }
    path = run / "theory.json"
    return cached(run, path.name, params, lambda: _compute_theory(run, y, params, str(path)), force=force)

"""Prune a run by a score and, optionally, retrain on the kept samples in-process as a child run.

``prune_run`` writes ``keep.npy``, ``pruned.npy``, ``per_class.csv`` and ``prune.json`` into
``<run>/prune/<score>_<ratio>_seed<seed>/`` (or ``out``) with :func:`write_prune_outputs`, the one
writer of pruning outputs (a prune by tag, ``core.audit.tagprune``, uses it too); with ``train=True`` it calls
``core.runs.training.train_run`` on the parent's config with ``keep``/``parent``/``prune_score``/
``prune_ratio``/``seed`` set and the given loss overrides, as a new run beside the parent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.prune import oracle_score
from core.analysis.scoretable import LABEL_SCORES, META_COLUMNS, ORACLE_SCORES, score_label
from core.errors import HardpairsError
from core.io import read_json, save_npy, write_csv, write_json
from core.rundir.folder import require_run, runs_root
from core.rundir.names import is_inside
from core.runs.analysis import scores_for_run
from core.training.lossmodes import RETRAIN_KNOBS

#: Config fields a pruned retrain may override (``prune --train`` flags of the same names).
RETRAIN_FIELDS = ("loss_mode", *RETRAIN_KNOBS, "epochs")


def _score_values(run_dir: Path, score: str) -> pd.DataFrame:
    """``scores.csv`` of the run (computed with default parameters when missing), checked for ``score``."""
    if not (run_dir / "scores.csv").exists():
        scores_for_run(run_dir)
    df = pd.read_csv(run_dir / "scores.csv")
    if score in ORACLE_SCORES:
        oracle_score(df, score)  # refuses a run that is not Mixed-omega
        return df
    if score not in df.columns or score in META_COLUMNS:
        available = [c for c in df.columns if c not in META_COLUMNS]
        if score in LABEL_SCORES:
            raise HardpairsError(
                f"score '{score}' needs labels and this dataset is unlabelled; prune by one of {available}"
            )
        raise HardpairsError(f"unknown score '{score}'; choose one of {available}")
    return df


def _out_folder(run: Path, out: str | os.PathLike[str]) -> Path:
    """``prune --out``: a folder inside the runs root (the run's parent folder or ``$HARDPAIRS_RUNS``).

    Raises:
        HardpairsError: ``out`` lies elsewhere, is a file, is a run folder or the root itself, or is
            a folder holding something other than an earlier prune output (``prune.json``).
    """
    folder = Path(out)
    roots = (run.resolve().parent, runs_root().resolve())
    if not any(is_inside(folder, r) for r in roots):
        raise HardpairsError(
            f"--out {folder} lies outside the runs root ({run.resolve().parent}); "
            f"pass a folder inside it, e.g. the default {run / 'prune'}/<score>_<ratio>_seed<seed>"
        )
    if folder.exists() and not folder.is_dir():
        raise HardpairsError(f"--out {folder} is a file; pass a new folder")
    if folder.resolve() in (*roots, run.resolve()) or (folder / "config.json").exists():
        raise HardpairsError(f"--out {folder} is a run folder or a runs root; pass a new folder inside the run")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "prune.json").exists():
        raise HardpairsError(f"--out {folder} holds files that are not a prune output; pass a new folder")
    return folder


def write_prune_outputs(
    folder: Path, kept: np.ndarray, pruned: np.ndarray, per_class: pd.DataFrame | None, result: dict[str, Any]
) -> dict[str, Any]:
    """The one writer of a pruning's outputs: ``keep.npy``, ``pruned.npy``, ``per_class.csv``, ``prune.json``.

    Args:
        folder: the output folder (created when missing).
        kept, pruned: (K,) and (N - K,) int64 sorted sample ids.
        per_class: ``core.analysis.prune.per_class_counts`` of the pruned ids, or None when the
            training labels are unknown (then no ``per_class.csv``).
        result: what the pruning returns; ``prune.json`` holds it plus ``per_class`` (the rows of ``per_class``).

    Returns:
        ``result`` with ``per_class`` added when known, as written to ``prune.json``.
    """
    save_npy(folder / "keep.npy", kept)
    save_npy(folder / "pruned.npy", pruned)
    if per_class is not None:
        write_csv(folder / "per_class.csv", per_class)
        result = result | {"per_class": per_class.to_dict(orient="records")}
    write_json(folder / "prune.json", result)
    return result


def prune_run(
    run_dir: str | os.PathLike[str],
    score: str,
    ratio: float,
    seed: int | None = None,
    out: str | os.PathLike[str] | None = None,
    train: bool = False,
    retrain: dict[str, Any] | None = None,
    analyse: bool = False,
    match_steps: bool = False,
) -> dict[str, Any]:
    """Remove the ``ratio`` share of highest-``score`` samples of a run; optionally retrain without them.

    Args:
        run_dir: the (parent) run folder.
        score: a column of ``scores.csv`` (band, cross_class, margin, prototype, random).
        ratio: share to remove, in [0, 1).
        seed: tie-breaking seed and the retrain's seed (default: the run's).
        out: output folder (default ``<run>/prune/<score>_<ratio>_seed<seed>``).
        train: retrain on the kept samples as a new run beside the parent (in this process).
        retrain: overrides of :data:`RETRAIN_FIELDS` for the retrain (None values are ignored).
        analyse: also analyse the retrained run.
        match_steps: retrain for the parent's number of optimiser steps (more epochs on fewer samples) instead of
            its number of epochs; the child's manifest records both step counts either way.

    Returns:
        ``run_dir, out, score, ratio, seed, n, n_kept, n_pruned, per_class`` (+ ``mixed_share_pruned``
        on a contaminated dataset, + ``train``: the retrain's result).
    """
    from core.analysis.prune import per_class_counts, select_keep

    run = require_run(run_dir)
    checked_out = _out_folder(run, out) if out else None
    if not 0.0 <= ratio < 1.0:
        raise HardpairsError(f"--ratio {ratio} is outside [0, 1); pass e.g. --ratio 0.1")
    df = _score_values(run, score)
    if seed is None:
        seed = int((read_json(run / "config.json") or {}).get("seed", 0))
    values = oracle_score(df, score) if score in ORACLE_SCORES else df[score].to_numpy()
    kept, pruned = select_keep(values, ratio, seed=seed)
    folder = checked_out or run / "prune" / f"{score}_{ratio:g}_seed{seed}"
    manifest = read_json(run / "manifest.json", {}) or {}
    counts = per_class_counts(df["label"].to_numpy(), pruned, manifest.get("classes"))
    result: dict[str, Any] = {
        "run_dir": str(run),
        "out": str(folder),
        "score": score,
        "score_label": score_label(score),
        "ratio": ratio,
        "seed": seed,
        "n": len(df),
        "n_kept": len(kept),
        "n_pruned": len(pruned),
    }
    if "mixed" in df.columns and len(pruned):
        result["mixed_share_pruned"] = float(df["mixed"].to_numpy()[pruned].mean())
    result = write_prune_outputs(folder, kept, pruned, counts, result)
    if train:
        result["train"] = retrain_pruned(
            run, folder / "keep.npy", score, ratio, seed, retrain or {}, analyse, match_steps=match_steps
        )
    return result


def optimiser_steps(run_config: dict[str, Any], n_samples: int, epochs: int | None = None) -> int:
    """Optimiser steps of a training: ``n_samples // batch_size`` per epoch (the trainer drops the last partial
    batch) times ``epochs`` (default: the config's)."""
    batch = int(run_config.get("batch_size") or 256)
    return (n_samples // batch) * int(epochs if epochs is not None else run_config.get("epochs") or 1)


def _steps_plan(parent: Path, n_kept: int, epochs: int | None, match: bool) -> dict[str, Any]:
    """``epochs`` of the child and both step counts: with ``match``, the fewest epochs whose steps reach the
    parent's (a HardpairsError when ``--epochs`` is given too)."""
    cfg = read_json(parent / "config.json", {}) or {}
    manifest = read_json(parent / "manifest.json", {}) or {}
    n_parent = int(manifest.get("n_kept") or manifest.get("n_train") or 0)
    parent_steps = optimiser_steps(cfg, n_parent)
    per_epoch = optimiser_steps(cfg, n_kept, 1)
    if match:
        if epochs is not None:
            raise HardpairsError("--epochs and --match-steps both set the retrain's length; pass one of them")
        if per_epoch < 1:
            raise HardpairsError(f"{n_kept} kept samples make no full batch; lower --batch-size or prune less")
        epochs = max(1, -(-parent_steps // per_epoch))
    child_epochs = int(epochs if epochs is not None else cfg.get("epochs") or 1)
    return {"epochs": child_epochs, "total": per_epoch * child_epochs, "parent_total": parent_steps, "matched": match}


def retrain_pruned(
    parent: Path,
    keep: Path,
    score: str,
    ratio: float,
    seed: int,
    overrides: dict[str, Any],
    analyse: bool = False,
    *,
    match_steps: bool = False,
) -> dict[str, Any]:
    """Train a child run on ``keep`` with the parent's config and ``overrides``, beside the parent; its manifest
    records ``optimiser_steps`` (``total``, ``parent_total``, ``matched``: see :func:`_steps_plan`).

    Raises:
        HardpairsError: the retrain failed; the message says where the kept indices are.
    """
    from core.runs.training import TrainOptions, derive_config, train_run

    unknown = sorted(set(overrides) - set(RETRAIN_FIELDS))
    if unknown:
        raise HardpairsError(f"cannot override {', '.join(unknown)} in a pruned retrain; allowed: {RETRAIN_FIELDS}")
    provenance = {"keep": str(keep), "parent": str(parent), "prune_score": score, "prune_ratio": ratio, "seed": seed}
    steps = _steps_plan(parent, int(np.load(keep, allow_pickle=False).size), overrides.get("epochs"), match_steps)
    if match_steps:
        overrides = overrides | {"epochs": steps["epochs"]}
    # probed as the parent was, so the paired test and "beside the paper" compare like with like
    protocol = str((read_json(parent / "metrics.json", {}) or {}).get("protocol") or "lbfgs")
    changes = {k: v for k, v in overrides.items() if v is not None} | provenance
    command = (  # the equivalent command line, recorded in the child's status.json and named on failure
        f"python -m core train --config {parent / 'config.json'} --keep {keep} --parent {parent} "
        f"--prune-score {score} --prune-ratio {ratio} --seed {seed} --runs-root {parent.resolve().parent}"
        + "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items() if v is not None)
        + (" --analyse" if analyse else "")
        + (f" --protocol {protocol}" if protocol != "lbfgs" else "")
    )
    try:
        cfg = derive_config(parent / "config.json", changes)
        opts = TrainOptions(runs_root=str(parent.resolve().parent), analyse=analyse, command=command, protocol=protocol)
        result = train_run(cfg, opts)
    except HardpairsError as err:
        raise HardpairsError(
            f"the pruned retrain failed ({err}); the kept indices are saved in {keep}, rerun: {command}"
        ) from err
    if "state" not in result:  # finished (a cancelled retrain returns its state)
        _record_steps(Path(result["run_dir"]), steps)
    return result | {"optimiser_steps": steps}


def _record_steps(child: Path, steps: dict[str, Any]) -> None:
    """Add ``optimiser_steps`` to the child's ``manifest.json`` (under its edit lock)."""
    from core.rundir.lock import edit_lock

    with edit_lock(child, "manifest"):
        manifest = read_json(child / "manifest.json", {}) or {}
        write_json(child / "manifest.json", manifest | {"optimiser_steps": steps})

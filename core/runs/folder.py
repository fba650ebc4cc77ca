"""Run folders: the contract between the CLI, the app and a reviewer.

Layout of one run folder (``<runs_root>/<run_id>/``)::

    config.json        TrainConfig as JSON (written once, before training)
    manifest.json      provenance: dataset fingerprint, kept-indices hash, seed,
                       git commit, package versions, device, wall time, parent run
    status.json        job state, rewritten atomically: state in
                       {"queued", "running", "done", "failed", "cancelled"},
                       epoch, epochs, step, steps, loss, images_per_s, eta_s,
                       flagged_share, message, pid, updated (unix time)
    progress.jsonl     one JSON object per logged epoch
    log.txt            human-readable log, one timestamped line per message
                       (written only by core.runs.log.run_log)
    checkpoints/last.pt   the one checkpoint: the latest epoch (rewritten atomically every
                       ``checkpoint_every`` epochs and at the end; resume starts from it)
    features.npz       train (N, D) float32, test (M, D) float32, y_train (N,) int64,
                       y_test (M,) int64 -- pre-projector features of *all* train samples
    metrics.json       {"linear_acc": float, "knn_acc": float, ...}
    keep.npy           (K,) int64 kept training indices, only for pruned runs

Analysis artefacts live beside them (see core.runs.analysis): scores.csv + scores.json,
pairs.csv + class_pairs.npz + pairs.json, umap_2d.csv/umap_3d.csv + their .json sidecars,
theory.json; prune/<score>_<ratio>_seed<seed>/ holds keep.npy, pruned.npy, per_class.csv, prune.json.
Runs live under ``cache/runs`` unless ``HARDPAIRS_RUNS`` or ``--runs-root`` says otherwise.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HardpairsError
from core.io import REPO_ROOT as REPO_ROOT  # re-exported: the helpers live in core.io (bottom layer)
from core.io import append_jsonl as append_jsonl
from core.io import atomic_write_bytes as atomic_write_bytes
from core.io import read_json as read_json
from core.io import read_json_line as read_json_line
from core.io import read_jsonl as read_jsonl
from core.io import save_npy as save_npy
from core.io import save_npz as save_npz
from core.io import write_csv as write_csv
from core.io import write_json as write_json

TERMINAL_STATES = ("done", "failed", "cancelled")


def runs_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds run folders: ``override``, else ``$HARDPAIRS_RUNS``, else ``cache/runs``."""
    if override:
        return Path(override)
    env = os.environ.get("HARDPAIRS_RUNS")
    return Path(env) if env else REPO_ROOT / "cache" / "runs"


def update_status(run_dir: str | os.PathLike[str], **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into ``run_dir/status.json`` atomically and return the new status."""
    path = Path(run_dir) / "status.json"
    status = read_json(path, {}) or {}
    status.update(fields)
    status["updated"] = time.time()
    write_json(path, status)
    return status


def require_run(run_dir: str | os.PathLike[str]) -> Path:
    """Return ``run_dir`` as a Path, or raise a clear error when it is not a run folder."""
    path = Path(run_dir)
    if not (path / "config.json").exists():
        raise HardpairsError(
            f"{path} is not a run folder (no config.json). "
            "List runs with `python -m core runs` or train one with `python -m core train`."
        )
    return path


def require_features(run_dir: str | os.PathLike[str]) -> Path:
    """Path of the run's ``features.npz``, or a clear error naming the command that makes it."""
    path = require_run(run_dir) / "features.npz"
    if not path.exists():
        raise HardpairsError(
            f"{run_dir} has no features.npz yet. Compute them with "
            f"`python -m core probe --run-dir {run_dir}` (it extracts features first)."
        )
    return path


def load_features(run_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load ``features.npz``: train (N, D) float32, test (M, D) float32, y_train (N,), y_test (M,).

    Raises:
        HardpairsError: no features yet, or an unreadable file (named, with the command that rewrites it).
    """
    path = require_features(run_dir)
    try:
        with np.load(path, allow_pickle=False) as data:
            feats = {k: data[k] for k in data.files}
        missing = [k for k in ("train", "test", "y_train", "y_test") if k not in feats]
        if missing:
            raise ValueError(f"it lacks {', '.join(missing)}")
    except Exception as err:  # noqa: BLE001 - zip, EOF, pickle and format errors all mean "unreadable"
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise HardpairsError(
            f"{path} is unreadable ({reason}); re-extract it with `python -m core probe --run-dir {run_dir}`"
        ) from None
    return feats


def run_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """One row describing a run: id, dataset, loss mode, state, accuracy, parent, prune info.

    Keys: run_id, run_dir, dataset, preset, loss_mode, seed, epochs, mix, state, epoch,
    linear_acc, knn_acc, parent, prune_score, prune_ratio, n_kept, created, wall_time_s.
    Missing values are None.
    """
    path = Path(run_dir)
    cfg = read_json(path / "config.json", {}) or {}
    man = read_json(path / "manifest.json", {}) or {}
    status = read_json(path / "status.json", {}) or {}
    metrics = read_json(path / "metrics.json", {}) or {}
    prune = man.get("prune") or {}
    return {
        "run_id": path.name,
        "run_dir": str(path),
        "dataset": cfg.get("dataset"),
        "preset": cfg.get("preset"),
        "loss_mode": cfg.get("loss_mode"),
        "seed": cfg.get("seed"),
        "epochs": cfg.get("epochs"),
        "mix": cfg.get("mix"),
        "state": status.get("state"),
        "epoch": status.get("epoch"),
        "linear_acc": metrics.get("linear_acc"),
        "knn_acc": metrics.get("knn_acc"),
        "parent": man.get("parent"),
        "prune_score": prune.get("score"),
        "prune_ratio": prune.get("ratio"),
        "n_kept": man.get("n_kept"),
        "created": man.get("created") or cfg.get("created"),
        "wall_time_s": man.get("wall_time_s"),
    }


def list_runs(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Summaries of every run folder under ``root`` (see :func:`run_summary`), newest first."""
    base = runs_root(root)
    if not base.exists():
        return []
    rows = [run_summary(p) for p in base.iterdir() if (p / "config.json").exists()]
    rows.sort(key=lambda r: r.get("created") or 0, reverse=True)
    return rows

"""Run folders: the contract between the CLI, the app and a reviewer.

Layout of one run folder (``<runs_root>/<run_id>/``)::

    config.json        TrainConfig as JSON (written once, before training)
    manifest.json      provenance: dataset fingerprint, kept-indices hash, seed,
                       git commit, package versions, device, wall time, parent run
    status.json        job state, rewritten atomically: state in
                       {"queued", "running", "done", "failed", "cancelled"} (shown as
                       "interrupted" when running but the trainer's lock is free),
                       epoch, epochs, step, steps, loss, images_per_s, eta_s,
                       flagged_share, message, pid, updated (unix time)
    progress.jsonl     one JSON object per logged epoch
    .lock              the trainer's fcntl lock (core.rundir.lock), held while it runs
    log.txt            human-readable log, one timestamped line per message
                       (written only by core.io.run_log)
    checkpoints/last.pt   the one checkpoint: the latest epoch (rewritten atomically every
                       ``checkpoint_every`` epochs and at the end; resume starts from it)
    features.npz       train (N, D) float32, test (M, D) float32, y_train (N,) int64,
                       y_test (M,) int64 -- pre-projector features of *all* train samples
    features/          the same, sharded (``torchrun ... -m core extract``); both formats are
                       read by core.rundir.featurefile.open_features
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import REPO_ROOT, read_json, write_json
from core.procs import pid_alive
from core.rundir.lock import edit_lock, lock_is_held

TERMINAL_STATES = ("done", "failed", "cancelled")


def runs_root(override: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds run folders: ``override``, else ``$HARDPAIRS_RUNS``, else ``cache/runs``."""
    if override:
        return Path(override)
    env = os.environ.get("HARDPAIRS_RUNS")
    return Path(env) if env else REPO_ROOT / "cache" / "runs"


def update_status(run_dir: str | os.PathLike[str], **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into ``run_dir/status.json`` atomically and return the new status.

    A run folder that no longer exists (moved or deleted while its process was stopping) is not
    re-created: nothing is written and the merged status is only returned.
    """
    path = Path(run_dir) / "status.json"
    if not path.parent.is_dir():
        return {**fields, "updated": time.time()}
    try:
        with edit_lock(run_dir, "status"):  # read-modify-write: a job's and an analysis's updates both stay
            try:
                status = read_run_json(run_dir, "status.json")
            except HardpairsError:
                status = {}  # a corrupt status is replaced by the writer's truth
            status.update(fields)
            status["updated"] = time.time()
            write_json(path, status)
    except FileNotFoundError:  # the folder went away between the check and the lock
        return {**fields, "updated": time.time()}
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


#: States a live trainer writes; with its lock free they mean the trainer died (``interrupted``).
ACTIVE_STATES = ("running", "queued")
#: The JSON files :func:`run_summary` reads.
SUMMARY_FILES = ("config.json", "manifest.json", "status.json", "metrics.json")


def status_progress(run_dir: str | os.PathLike[str], what: str, every_s: float = 5.0) -> Callable[[int, int], None]:
    """A ``(done, total)`` progress callback that writes ``"<what>: 12,288 / 40,000"`` into a RUNNING run's
    ``status.json`` message at most every ``every_s`` seconds and at the end (the app and ``runs --show``
    follow long work by it); a run in any other state is left as it is."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.time()
        if done < total and now - last[0] < every_s:
            return
        last[0] = now
        try:
            running = read_run_json(run_dir, "status.json").get("state") == "running"
        except HardpairsError:
            running = False
        if running:
            update_status(run_dir, message=f"{what}: {done:,} / {total:,}")

    return report


def read_run_json(run_dir: str | os.PathLike[str], name: str) -> dict[str, Any]:
    """``run_dir/name`` as a dict ({} when missing).

    Raises:
        HardpairsError: ``unreadable: <name>: <reason>`` for a corrupt, half-written or non-object file.
    """
    path = Path(run_dir) / name
    try:
        value = read_json(path, {})
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise HardpairsError(f"unreadable: {name}: {reason}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HardpairsError(f"unreadable: {name}: a JSON object was expected, found {type(value).__name__}")
    return value


def resume_command(run_dir: str | os.PathLike[str], analyse: bool = False) -> str:
    """The command that continues an interrupted run (``--analyse`` when it died during the analyses)."""
    return f"python -m core train --resume --run-dir {run_dir}" + (" --analyse" if analyse else "")


def true_state(run_dir: str | os.PathLike[str], status: dict[str, Any]) -> tuple[Any, Any]:
    """``(state, message)`` of a run: ``status.json``'s, or ``interrupted`` when its trainer is gone.

    "running" with the run's lock free, or "queued" by a process that no longer exists, is
    ``interrupted``; the message then says how to continue (resume, or rerun an import).
    """
    state, message = status.get("state"), status.get("message")
    if state not in ACTIVE_STATES or lock_is_held(run_dir):
        return state, message
    if state == "queued" and pid_alive(status.get("pid")):
        return state, message
    path = Path(run_dir)
    if (path / "checkpoints" / "last.pt").exists() and (path / "config.json").exists() and not _imported(path):
        how = f"resumable: {resume_command(run_dir, str(message or '').startswith('analysis:'))}"
    else:
        how = f"rerun it: {status.get('command') or 'the command that made it'}"
    return "interrupted", f"interrupted — {how}"


def _imported(path: Path) -> bool:
    try:
        return bool(read_run_json(path, "manifest.json").get("imported_from"))
    except HardpairsError:
        return False


def run_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """One row describing a run: id, dataset, loss mode, state, accuracy, parent, prune info.

    Keys: run_id, run_dir, dataset, preset, loss_mode, seed, epochs, mix, state, message, epoch,
    linear_acc, knn_acc, parent, prune_score, prune_ratio, n_kept, created, wall_time_s, unreadable.
    Missing values are None. ``state`` is ``interrupted`` for a run whose trainer died (see
    :func:`true_state`) and ``unreadable`` when one of its JSON files is corrupt; ``unreadable`` then
    holds ``"<file>: <reason>"`` and ``message`` ``"unreadable: <file>: <reason>"``, and the values
    of the readable files are still filled in.
    """
    path = Path(run_dir)
    files: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name in SUMMARY_FILES:
        try:
            files[name] = read_run_json(path, name)
        except HardpairsError as err:
            files[name] = {}
            problems.append(str(err).removeprefix("unreadable: "))
    cfg, man, status, metrics = (files[name] for name in SUMMARY_FILES)
    prune: dict[str, Any] = man["prune"] if isinstance(man.get("prune"), dict) else {}
    state, message = true_state(path, status)
    if problems:
        state, message = "unreadable", "unreadable: " + "; ".join(problems)
    return {
        "run_id": path.name,
        "run_dir": str(path),
        "dataset": cfg.get("dataset"),
        "preset": cfg.get("preset"),
        "loss_mode": cfg.get("loss_mode"),
        "seed": cfg.get("seed"),
        "epochs": cfg.get("epochs"),
        "mix": cfg.get("mix"),
        "state": state,
        "message": message,
        "epoch": status.get("epoch"),
        "linear_acc": metrics.get("linear_acc"),
        "knn_acc": metrics.get("knn_acc"),
        "parent": man.get("parent"),
        "prune_score": prune.get("score"),
        "prune_ratio": prune.get("ratio"),
        "n_kept": man.get("n_kept"),
        "created": man.get("created") or cfg.get("created"),
        "wall_time_s": man.get("wall_time_s"),
        "unreadable": "; ".join(problems) or None,
    }


def list_runs(root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Summaries of every run folder under ``root`` (see :func:`run_summary`), newest first."""
    base = runs_root(root)
    if not base.exists():
        return []
    rows = [run_summary(p) for p in base.iterdir() if (p / "config.json").exists()]
    rows.sort(key=lambda r: r["created"] if isinstance(r.get("created"), (int, float)) else 0, reverse=True)
    return rows

"""Open a run for training: a fresh folder, or an interrupted run resumed with its records kept exact.

On resume, ``--epochs`` and ``--device`` may change; ``config.json`` records them and the manifest is
completed (``core.runs.manifest.complete_manifest``). ``progress.jsonl`` is cut back to the
checkpoint's epoch by the trainer (``core.training.loop.cut_progress``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import write_json
from core.rundir.folder import read_run_json, require_run
from core.rundir.lock import busy_message, lock_is_held
from core.training.config import TrainConfig


def open_run(cfg: TrainConfig | None, opts: Any) -> tuple[Path, TrainConfig]:
    """The run folder and config: the interrupted run's (``opts.resume``) or a fresh folder for ``cfg``.

    ``opts`` is a ``core.runs.training.TrainOptions``.
    On resume, ``opts.epochs`` and ``opts.device`` override the saved config (recorded in
    ``config.json`` by :func:`record_resume`). Nothing is written here.

    Raises:
        HardpairsError: another process trains the run (see ``core.rundir.lock``), or no run to resume.
    """
    from core.runs.pipeline import new_run_dir

    if opts.resume:
        if not opts.run_dir:
            raise HardpairsError("--resume needs --run-dir RUN (the folder of the interrupted run)")
        run_dir = require_run(opts.run_dir)
        if lock_is_held(run_dir):
            raise HardpairsError(busy_message(run_dir))
        saved = read_run_json(run_dir, "config.json")
        cfg = TrainConfig.from_dict(saved | resume_changes(opts))
        _check_epochs_left(run_dir, cfg.epochs)
        return run_dir, cfg
    if cfg is None:
        raise HardpairsError("no config to train: pass one (or resume a run with --resume --run-dir RUN)")
    if opts.run_dir and lock_is_held(opts.run_dir):
        raise HardpairsError(busy_message(opts.run_dir))
    return new_run_dir(cfg, opts.run_dir, opts.name, opts.runs_root), cfg


def _check_epochs_left(run_dir: Path, epochs: int) -> None:
    """Refuse a resume to fewer epochs than ``checkpoints/last.pt`` already holds (nothing written yet)."""
    from core.models.checkpoints import load_checkpoint_file

    ckpt = run_dir / "checkpoints" / "last.pt"
    if not ckpt.exists():
        return
    done = int(load_checkpoint_file(ckpt).get("epoch", 0))
    if done > epochs:
        raise HardpairsError(
            f"--epochs {epochs} is fewer than the {done} epochs {run_dir} has already trained "
            f"(checkpoints/last.pt); pass --epochs {done} or more to resume it"
        )


def resume_changes(opts: Any) -> dict[str, Any]:
    """The settings a resume may change: ``epochs`` and ``device`` when given."""
    changes: dict[str, Any] = {}
    if opts.epochs:
        changes["epochs"] = opts.epochs
    if opts.device:
        changes["device"] = opts.device
    return changes


def record_resume(run_dir: Path, cfg: TrainConfig, fresh: dict[str, Any]) -> None:
    """On resume: ``config.json`` records the changed settings (epochs, device) and the manifest is
    completed from ``fresh`` (see ``core.runs.manifest.complete_manifest``)."""
    from core.runs.manifest import complete_manifest

    saved = read_run_json(run_dir, "config.json")
    if saved | cfg.to_dict() != saved:
        write_json(run_dir / "config.json", saved | cfg.to_dict())
    complete_manifest(run_dir, fresh, cfg.epochs)

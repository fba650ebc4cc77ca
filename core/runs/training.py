"""Train a run: create (or resume) its folder, write config and manifest, train, extract features, probe.

:func:`train_run` is what ``python -m core train`` and ``prune --train`` call. Under torchrun
rank 0 does everything below and shares the job (run folder, config, kept indices) with the
other ranks, which only train (``core.training.loop.train`` writes nothing on them).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.data.sources import ImageDataset
from core.errors import HardpairsError
from core.io import run_log, save_npy, write_json
from core.rundir.folder import read_run_json, update_status
from core.rundir.lock import run_lock
from core.rundir.lock import stop_on_sigterm as stop_on_sigterm  # re-exported: the trainer's SIGTERM handling
from core.rundir.log import progress_printer
from core.runs.resume import open_run, record_resume
from core.training.config import TrainConfig, read_config_file
from core.training.distributed import DistEnv

#: Config fields that describe where a pruned retrain came from; never inherited by a new run.
PROVENANCE = ("keep", "parent", "prune_score", "prune_ratio")

ShareJob = Callable[..., None]


@dataclass(frozen=True)
class TrainOptions:
    """How to run a training job (the config says what to train).

    Attributes:
        run_dir: the run folder (default: a new folder under ``runs_root``); required with ``resume``.
        name: name of the new run folder under ``runs_root``.
        runs_root: where run folders live (default ``$HARDPAIRS_RUNS`` or ``cache/runs``).
        resume: continue the interrupted run in ``run_dir`` from its last checkpoint.
        epochs: with ``resume``, a new total epoch count (None keeps the saved one).
        download: let torchvision download the dataset.
        probe: linear probe and kNN after feature extraction (labelled data only).
        protocol: the probe protocol (``lbfgs`` or ``paper``: see ``core.analysis.probe.probe_config``).
        analyse: also run scores, pairs, map and theory (``core.runs.analysis.analyse_run``).
        device: the ``--device`` flag (``auto``, ``cpu``, ``cuda[:N]``; None: not given): joins a torchrun
            group on it, and with ``resume`` replaces the saved device.
        command: the command line recorded in ``status.json`` (None: not recorded).
    """

    run_dir: str | None = None
    name: str | None = None
    runs_root: str | None = None
    resume: bool = False
    epochs: int | None = None
    download: bool = False
    probe: bool = True
    protocol: str = "lbfgs"
    analyse: bool = False
    device: str | None = None
    command: str | None = None


def derive_config(
    base_path: str | os.PathLike[str],
    changes: dict[str, Any],
    dataset: str | None = None,
    preset: str | None = None,
) -> TrainConfig:
    """A new run's config from another run's ``config.json``: its values, without provenance, plus ``changes``.

    Raises:
        HardpairsError: ``base_path`` is missing or not a JSON config object.
    """
    base = read_config_file(base_path)
    base = {k: v for k, v in base.items() if k != "created" and k not in PROVENANCE}
    if dataset:
        base["dataset"] = dataset
    if preset:
        base["preset"] = preset
    return TrainConfig.from_dict(base | changes)


def train_run(config: TrainConfig | Callable[[], TrainConfig] | None, opts: TrainOptions) -> dict[str, Any]:
    """Train one run (or, under torchrun, this rank's share of it) and return the ``train`` command's dict.

    Args:
        config: the config, a function making it (called on rank 0 only), or None with ``opts.resume``.
        opts: see :class:`TrainOptions`.

    Returns:
        ``run_dir, epochs, final_loss, images_per_s, train_seconds, wall_time_s`` (+ ``linear_acc``,
        ``knn_acc``, ``analysis``); ``{"run_dir", "state": "cancelled"}`` when stopped; on a
        non-zero torchrun rank ``{"rank", "state"}``.
    """
    from core.training.distributed import broadcast_object, cleanup_distributed, setup_distributed

    env, _ = setup_distributed(opts.device or "auto")
    try:
        if not env.is_main:
            return _train_rank(opts, env)
        shared: list[bool] = []

        def share_job(*job: Any) -> None:
            broadcast_object(("ok", *job), env)
            shared.append(True)

        try:
            cfg = config() if callable(config) else config
            return _train_main(cfg, opts, share_job)
        except HardpairsError as err:
            if env.enabled and not shared:  # the other ranks still wait for the job: tell them why not
                broadcast_object(("error", str(err)), env)
            raise
    finally:
        cleanup_distributed()


def _train_rank(opts: TrainOptions, env: DistEnv) -> dict[str, Any]:
    """A non-zero torchrun rank: wait for rank 0's run folder and config, train, write nothing."""
    from core.runs.pipeline import load_run_data
    from core.training.distributed import broadcast_object
    from core.training.loop import TrainingStopped, train

    sys.stdout = open(os.devnull, "w")  # rank 0 prints the result; the others stay silent
    kind, *job = broadcast_object(None, env)
    if kind == "error":
        raise HardpairsError(job[0])
    run_dir, cfg_dict, keep = job
    cfg = TrainConfig.from_dict(cfg_dict)
    with stop_on_sigterm() as should_stop:
        try:
            data = load_run_data(cfg, download=False)
            train(cfg, data, run_dir, keep=keep, resume=opts.resume, should_stop=should_stop)
        except TrainingStopped:
            return {"rank": env.rank, "state": "cancelled"}
    return {"rank": env.rank, "state": "done"}


def prepare_run(
    run_dir: Path, cfg: TrainConfig, opts: TrainOptions
) -> tuple[TrainConfig, ImageDataset, np.ndarray | None]:
    """Load the data and kept indices; for a new run write ``keep.npy``, ``config.json`` and ``manifest.json``.

    A new folder is removed again when this fails before ``config.json`` exists.

    Returns:
        (config (with ``keep`` pointing into the run folder), data, keep (K,) int64 or None).
    """
    from core.device import pick_device
    from core.runs.manifest import make_manifest
    from core.runs.pipeline import discard_new_run_dir, load_keep, load_run_data

    try:
        data = load_run_data(cfg, download=opts.download)
        keep = None
        if cfg.keep:
            keep = load_keep(cfg.keep, len(data.x_train))
            if not opts.resume:
                save_npy(run_dir / "keep.npy", keep)  # atomic, like every other run file
                cfg = TrainConfig.from_dict({**cfg.to_dict(), "keep": str(run_dir / "keep.npy")})
        device = pick_device(cfg.device)
        if opts.resume:
            record_resume(run_dir, cfg, make_manifest(run_dir.name, cfg.to_dict(), data, keep, device))
        else:
            write_json(run_dir / "config.json", cfg.to_dict())
            write_json(run_dir / "manifest.json", make_manifest(run_dir.name, cfg.to_dict(), data, keep, device))
            if data.noisy.any():  # the label-noise ground truth: ids of the flipped labels (core.audit.groundtruth)
                save_npy(run_dir / "noisy.npy", np.flatnonzero(data.noisy).astype(np.int64))
    except BaseException:  # any failure, not only a HardpairsError: no stub folder survives
        if not opts.resume and not (run_dir / "config.json").exists():
            discard_new_run_dir(run_dir)  # nothing was computed: remove the folder, only if this call made it
        raise
    return cfg, data, keep


def _train_main(cfg: TrainConfig | None, opts: TrainOptions, share_job: ShareJob) -> dict[str, Any]:
    run_dir, cfg = open_run(cfg, opts)
    with run_lock(run_dir, opts.command):
        return _train_locked(run_dir, cfg, opts, share_job)


def _train_locked(run_dir: Path, cfg: TrainConfig, opts: TrainOptions, share_job: ShareJob) -> dict[str, Any]:
    """Everything a trainer does while it holds the run's lock (``core.rundir.lock``)."""
    run_log(run_dir, f"run folder: {run_dir}")
    cfg, data, keep = prepare_run(run_dir, cfg, opts)
    share_job(str(run_dir), cfg.to_dict(), keep)  # other torchrun ranks train the same job
    run_log(run_dir, "config:\n" + cfg.to_json())
    n_kept = len(keep) if keep is not None else len(data.x_train)
    run_log(
        run_dir,
        f"data: {data.spec} train={len(data.x_train)} test={len(data.x_test)} classes={len(data.classes)} "
        f"mixed={int(data.mixed.sum())} kept={n_kept}",
    )
    update_status(
        run_dir, state="running", epoch=0, epochs=cfg.epochs, message="training", pid=os.getpid(), command=opts.command
    )
    t0 = time.time()
    out = fit_run(run_dir, cfg, data, keep, opts)
    if out.get("state") == "cancelled":
        return out
    finish_run(run_dir, data, opts, out)
    manifest = read_run_json(run_dir, "manifest.json")
    manifest["wall_time_s"] = (manifest.get("wall_time_s") or 0) + time.time() - t0
    write_json(run_dir / "manifest.json", manifest)
    out["wall_time_s"] = manifest["wall_time_s"]
    if out.get("state") != "cancelled":  # a cancel during the analyses is recorded by analyse_run
        update_status(run_dir, state="done", message="done", eta_s=0)
    return out


def fit_run(
    run_dir: Path, cfg: TrainConfig, data: ImageDataset, keep: np.ndarray | None, opts: TrainOptions
) -> dict[str, Any]:
    """Train (stoppable by SIGTERM); record failure or cancellation in ``status.json`` and ``log.txt``."""
    from core.training.loop import TrainingStopped, train

    with stop_on_sigterm() as should_stop:
        try:
            on_event = progress_printer(run_dir, cfg.epochs)
            result = train(
                cfg, data, run_dir, keep=keep, resume=opts.resume, on_event=on_event, should_stop=should_stop
            )
        except TrainingStopped as err:
            kept = (run_dir / "checkpoints" / "last.pt").exists()  # none before the first checkpoint
            update_status(
                run_dir,
                state="cancelled",
                message=f"cancelled during epoch {err.args[0] + 1}; "
                + (
                    f"the last checkpoint is kept (resume with `python -m core train --resume --run-dir {run_dir}`)"
                    if kept
                    else "no checkpoint was written yet, so nothing is kept: start the run again"
                ),
            )
            run_log(run_dir, "cancelled")
            return {"run_dir": str(run_dir), "state": "cancelled"}
        except HardpairsError as err:
            update_status(run_dir, state="failed", message=str(err))
            run_log(run_dir, f"failed: {err}")
            raise
        except BaseException as err:
            update_status(run_dir, state="failed", message=f"{type(err).__name__}: {err}")
            run_log(run_dir, traceback.format_exc())
            raise
    run_log(
        run_dir,
        f"trained {cfg.epochs} epochs in {result.wall_time_s:.1f} s ({result.images_per_s:.0f} images/s), "
        f"loss {result.final_loss:.4f}",
    )
    return {
        "run_dir": str(run_dir),
        "epochs": cfg.epochs,
        "final_loss": result.final_loss,
        "images_per_s": result.images_per_s,
        "train_seconds": result.wall_time_s,
    }


def finish_run(run_dir: Path, data: ImageDataset, opts: TrainOptions, out: dict[str, Any]) -> None:
    """After training: features, probe (labelled data) and, with ``opts.analyse``, the analyses, into ``out``."""
    from core.runs.analysis import analyse_run
    from core.runs.pipeline import extract_run_features, probe_run

    try:
        update_status(run_dir, message="extracting features")
        extract_run_features(run_dir, data, force=True)
        if opts.probe and (data.y_train >= 0).any():  # stl10+unlabeled: probed on its labelled rows
            update_status(run_dir, message="linear probe and kNN")
            metrics = probe_run(run_dir, data, protocol=opts.protocol)
            out.update(linear_acc=metrics["linear_acc"], knn_acc=metrics["knn_acc"])
            run_log(run_dir, f"linear probe {metrics['linear_acc']:.4f}, kNN {metrics['knn_acc']:.4f}")
        if opts.analyse:
            out["analysis"] = analyse_run(run_dir)
            if "cancelled" in out["analysis"]:
                out.update(state="cancelled", message=f"cancelled during analysis: {out['analysis']['cancelled']}")
    except BaseException as err:
        update_status(run_dir, state="failed", message=f"after training: {err}")
        raise

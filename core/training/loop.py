"""The SimCLR trainer with the paper's in-batch difficult-pair selection, on one process or many.

One step: two batched augmentations of the same images on the device -> ``h, z = model(views)``
-> ``pairs = select_difficult_pairs(h)`` (paper modes, and log steps; no gradient) ->
``contrastive_loss(z, pairs, mode)`` -> optimizer step with a warm-up + cosine learning rate.

Speed: the training images stay on the device as uint8 ``(N, C, H, W)`` and are augmented there
(no CPU workers; a dataset streamed from the on-disk store is gathered batch by batch by a
prefetching thread instead, with the same batches: ``core.training.batches``); bf16 autocast,
channels_last, cuDNN autotuning and fused SGD/AdamW on CUDA, float32 on the CPU; optional
``torch.compile`` (compiled at the first step; if that fails the step is redone eagerly and a
message is logged). The loop synchronises with the host only on log
steps (every ``log_every`` steps: loss, NaN check, pair statistics, status) and at epoch ends.

Multi-process (``torchrun``, DDP; see ``core/training/distributed.py``): the batch is the *global* batch;
every rank draws the same permutation and augmentations and trains on its rows, ``z`` and ``h``
are gathered so the selection and the loss see the one-process global batch, BatchNorm spans all
ranks, and the result equals a one-process run up to float rounding. Only rank 0 writes files.

Structure: ``core.training.start.start_training`` checks the job and puts data, model and the
resumed checkpoint on the device; :func:`train` runs the epochs (``_train_epoch``), and rank 0
records each log step (``_log_step``) and epoch (``_end_epoch``: progress.jsonl, status, last.pt).

Repeatability: the shuffling and augmentation of epoch ``e`` use a generator seeded with
``(seed, e)``, so an interrupted run resumed from its checkpoint continues exactly as an
uninterrupted one would (on the same device).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.sources import ImageDataset
from core.errors import HardpairsError
from core.io import append_jsonl, atomic_write_bytes, read_jsonl
from core.models.checkpoints import FORMAT, save_checkpoint
from core.models.models import SimCLRModel
from core.rundir.folder import update_status
from core.training.config import TrainConfig
from core.training.distributed import any_rank
from core.training.hardneg import assumption1_share
from core.training.loss import monitor_losses, pair_stats
from core.training.lossmodes import THRESHOLD_MODES
from core.training.start import RunState, start_training
from core.training.step import lr_at, make_views, run_step


class TrainingStopped(Exception):
    """Raised inside the loop when a stop was requested (SIGTERM/cancel)."""


@dataclass(frozen=True)
class TrainResult:
    epochs_done: int
    final_loss: float
    images_per_s: float
    wall_time_s: float
    model: SimCLRModel


def _epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed * 1_000_003 + epoch)
    return g


def train(
    cfg: TrainConfig,
    data: ImageDataset,
    run_dir: str | Path,
    keep: np.ndarray | None = None,
    resume: bool = False,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train SimCLR on ``data.x_train[keep]`` and checkpoint into ``run_dir/checkpoints``.

    Under torchrun (``WORLD_SIZE > 1``) this joins the process group; ``cfg.batch_size`` is the
    global batch and must be divisible by the number of processes. Only rank 0 writes files and
    calls ``on_event``; ``should_stop`` is then polled on log steps and agreed on by all ranks.

    Args:
        cfg: the run's config (loss mode, pair-selection band, schedule, seed, ...).
        data: images (N, C, H, W) uint8 and labels (N,) (-1 where unknown).
        run_dir: the run folder; ``status.json`` and ``progress.jsonl`` are written there.
        keep: (K,) int64 kept training indices (a pruned retrain) or None for all N.
        resume: continue from ``checkpoints/last.pt``.
        on_event: called with each progress event dict (epoch-level and every ``log_every`` steps).
        should_stop: polled each step; True stops after checkpointing nothing new (the last
            checkpoint stays) by raising ``TrainingStopped``.

    Raises:
        HardpairsError: NaN loss (the run is marked failed, the last checkpoint, if any, kept),
            too few samples, a global batch not divisible by the processes, or an incompatible
            checkpoint on resume.
    """
    run = start_training(cfg, data, Path(run_dir), keep, resume)
    if resume and run.env.is_main:
        cut_progress(run.run_dir / "progress.jsonl", run.start_epoch)
    run.model.train()
    run.t_start = time.time()
    last_loss, images_done, train_time = float("nan"), 0, 0.0
    for epoch in range(run.start_epoch, cfg.epochs):
        t_epoch = time.time()
        loss_sum, stats = _train_epoch(run, epoch, on_event, should_stop)
        last_loss = float(loss_sum) / run.steps
        images_done += run.steps * run.batch
        train_time += time.time() - t_epoch
        if run.env.is_main:
            _end_epoch(run, epoch, last_loss, stats, t_epoch, on_event)
    return TrainResult(
        epochs_done=cfg.epochs,
        final_loss=last_loss,
        images_per_s=images_done / max(train_time, 1e-9) if images_done else 0.0,
        wall_time_s=time.time() - run.t_start,
        model=run.model,
    )


def cut_progress(path: Path, epoch: int) -> None:
    """Keep only the ``progress.jsonl`` records of epochs ``<= epoch`` (the checkpoint's), atomically.

    A resumed run retrains the epochs after its checkpoint, so their records from the interrupted
    attempt go (no epoch is listed twice); a torn last line goes too.
    """
    rows = read_jsonl(path)
    kept = [r for r in rows if isinstance(r.get("epoch"), int) and r["epoch"] <= epoch]
    if path.exists() and (kept != rows or path.read_bytes().count(b"\n") != len(rows)):
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        atomic_write_bytes(path, text.encode())


def _train_epoch(
    run: RunState,
    epoch: int,
    on_event: Callable[[dict[str, Any]], None] | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """One epoch of steps; returns (summed loss (scalar tensor on the device), rank 0's log-step pair stats)."""
    cfg, env, device = run.cfg, run.env, run.device
    g = _epoch_generator(cfg.seed, epoch, device)
    perm = torch.randperm(run.batches.n, generator=g, device=device)
    loss_sum = torch.zeros((), device=device)
    stats: list[dict[str, Any]] = []
    with run.batches.epoch(perm, run.batch) as batches:  # device-resident or streamed (core.training.batches)
        for s, (xb, yb) in enumerate(batches):
            if should_stop is not None and _stop_now(run, s, should_stop):
                raise TrainingStopped(epoch)
            views = make_views(run.ctx, xb, g)
            lv = torch.cat([yb, yb])
            log_step = (s + 1) % cfg.log_every == 0 or s == run.steps - 1
            lr = lr_at(epoch * run.steps + s, run.total_steps, run.warmup_steps, cfg.lr)
            loss, pairs, z = run_step(run.ctx, views, lv, lr, log_step)
            loss_sum += loss
            if not log_step:
                continue
            mean_loss = float(loss_sum) / (s + 1)  # host sync: log steps only
            if not math.isfinite(mean_loss):
                raise HardpairsError(_nan_message(run, mean_loss, epoch, s))
            if env.is_main:
                stats.append(_log_step(run, epoch, s, mean_loss, pairs, lv, z, on_event))
    return loss_sum, stats


def _nan_message(run: RunState, loss: float, epoch: int, step: int) -> str:
    """What a non-finite loss means for this run: truthful about whether a checkpoint exists."""
    ckpt = run.run_dir / "checkpoints" / "last.pt"
    kept = (
        f"the last good checkpoint ({ckpt}) is kept"
        if ckpt.exists()
        else "no checkpoint was written yet, so no last good checkpoint is kept and there is nothing to resume"
    )
    return (
        f"the loss became {loss} at epoch {epoch + 1}, step {step + 1}; training stopped and {kept}. "
        "Lower --lr (or --temperature extremes) and start a new run"
    )


def _stop_now(run: RunState, step: int, should_stop: Callable[[], bool]) -> bool:
    """The stop request, agreed on by every rank on log steps under torchrun."""
    if not run.env.enabled:
        return should_stop()
    return step % run.cfg.log_every == 0 and any_rank(bool(should_stop()), run.env, run.device)


def _log_step(
    run: RunState,
    epoch: int,
    s: int,
    mean_loss: float,
    pairs: torch.Tensor | None,
    lv: torch.Tensor,
    z: torch.Tensor,
    on_event: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    """Rank 0 on a log step: pair statistics (returned), ``status.json`` and a ``step`` event."""
    cfg = run.cfg
    assert pairs is not None  # run_step returns the pairs on log steps
    st: dict[str, Any] = pair_stats(pairs, lv if run.labelled else None, z)
    if cfg.monitor and run.labelled:
        st["monitor"] = monitor_losses(z.float(), lv, cfg.temperature, cfg.beta)
    if cfg.loss_mode in THRESHOLD_MODES and run.labelled:
        st["assumption1_share"] = assumption1_share(z.float(), lv, cfg.temperature, cfg.hard_threshold)
    done = (epoch - run.start_epoch) * run.steps + s + 1
    ips = done * run.batch / max(time.time() - run.t_start, 1e-9)
    event = {
        "kind": "step",
        "epoch": epoch + 1,
        "epochs": cfg.epochs,
        "step": s + 1,
        "steps": run.steps,
        "loss": mean_loss,
        "images_per_s": ips,
        "eta_s": (run.total_steps - epoch * run.steps - s - 1) * run.batch / max(ips, 1e-9),
    }
    update_status(run.run_dir, state="running", **{k: v for k, v in event.items() if k != "kind"})
    if on_event:
        on_event(event)
    return st


def _finite_mean(values: list[float]) -> float | None:
    """Mean of the finite values (None when there is none: JSON has no NaN)."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _end_epoch(
    run: RunState,
    epoch: int,
    last_loss: float,
    stats: list[dict[str, Any]],
    t_epoch: float,
    on_event: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Rank 0 after an epoch: ``progress.jsonl``, ``status.json``, an ``epoch`` event and maybe ``last.pt``."""
    cfg, steps = run.cfg, run.steps
    record: dict[str, Any] = {
        "epoch": epoch + 1,
        "loss": last_loss,
        "lr": run.ctx.opt.param_groups[0]["lr"],
        "images_per_s": steps * run.batch / max(time.time() - t_epoch, 1e-9),
        "time": time.time(),
        "flagged_share": float(np.mean([st["flagged_share"] for st in stats])),
        "flagged_cross_class": float(np.nanmean([st["flagged_cross_class"] for st in stats])) if run.labelled else None,
        "flagged_similarity": _finite_mean([st["flagged_similarity"] for st in stats]),
    }
    if cfg.loss_mode in THRESHOLD_MODES and run.labelled:  # Jiang et al.'s Fig. 4: anchors satisfying Assumption 1
        record["assumption1_share"] = float(np.mean([st["assumption1_share"] for st in stats]))
    if cfg.monitor and run.labelled:
        record["monitor"] = {k: float(np.mean([st["monitor"][k] for st in stats])) for k in stats[0]["monitor"]}
    append_jsonl(run.run_dir / "progress.jsonl", record)
    update_status(
        run.run_dir,
        state="running",
        epoch=epoch + 1,
        epochs=cfg.epochs,
        loss=last_loss,
        flagged_share=record["flagged_share"],
        step=steps,
        steps=steps,
    )
    if on_event:
        on_event({"kind": "epoch", "epochs": cfg.epochs, **record})
    if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs:
        save_checkpoint(
            run.ckpt_path,
            {
                "format": FORMAT,
                "version": 1,
                "config": cfg.to_dict(),
                "epoch": epoch + 1,
                "model": run.model.state_dict(),
                "optimizer": run.ctx.opt.state_dict(),
                "metrics": {"loss": last_loss},
                **({"moco": run.ctx.moco.state_dict()} if run.ctx.moco is not None else {}),  # exact MoCo resume
            },
        )

"""The SimCLR trainer with the paper's in-batch difficult-pair selection, on one process or many.

One step: two batched augmentations of the same images on the device -> ``h, z = model(views)``
-> ``pairs = select_difficult_pairs(h)`` (paper modes, and log steps; no gradient) ->
``contrastive_loss(z, pairs, mode)`` -> optimizer step with a warm-up + cosine learning rate.

Speed: the training images stay on the device as uint8 ``(N, C, H, W)`` and are augmented there
(no CPU workers); bf16 autocast, channels_last, cuDNN autotuning and fused SGD/AdamW on CUDA,
float32 on the CPU; optional ``torch.compile`` (compiled at the first step; if that fails the
step is redone eagerly and a message is logged). The loop synchronises with the host only on log
steps (every ``log_every`` steps: loss, NaN check, pair statistics, status) and at epoch ends.

Multi-process (``torchrun``, DDP; see ``core/training/distributed.py``): the batch is the *global* batch;
every rank draws the same permutation and augmentations and trains on its rows, ``z`` and ``h``
are gathered so the selection and the loss see the one-process global batch, BatchNorm spans all
ranks, and the result equals a one-process run up to float rounding. Only rank 0 writes files.

Repeatability: the shuffling and augmentation of epoch ``e`` use a generator seeded with
``(seed, e)``, so an interrupted run resumed from its checkpoint continues exactly as an
uninterrupted one would (on the same device).
"""

from __future__ import annotations

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
from core.runs.folder import append_jsonl, update_status
from core.runs.log import run_log
from core.training.checkpoints import FORMAT, load_checkpoint_file, save_checkpoint
from core.training.config import TrainConfig
from core.training.distributed import DistEnv, any_rank, broadcast_object, local_batch, setup_distributed
from core.training.loss import monitor_losses, pair_stats
from core.training.lossmodes import LABEL_MODES
from core.training.models import SimCLRModel
from core.training.step import StepContext, augment_config, lr_at, make_views, prepare_model, run_step

#: Config fields that may differ between an interrupted run and its resumption.
_RESUMABLE = {"epochs", "device", "created", "checkpoint_every", "log_every", "compile"}


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


def _check_resume(cfg: TrainConfig, saved: dict) -> None:
    diff = sorted(
        k for k in set(saved) | set(cfg.to_dict()) if k not in _RESUMABLE and saved.get(k) != cfg.to_dict().get(k)
    )
    if diff:
        raise HardpairsError(
            f"cannot resume: the checkpoint was trained with different settings ({', '.join(diff)}); "
            "resume with the run's own config.json or start a new run folder"
        )


def _load_resume(path: Path, cfg: TrainConfig, env: DistEnv) -> dict | None:
    """Rank 0 reads and checks ``last.pt`` and shares it (or its error) with every rank."""
    payload: tuple[str, object] = ("none", None)
    if env.is_main and path.exists():
        try:
            ckpt = load_checkpoint_file(path)
            if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
                raise HardpairsError(f"{path} is not a Hardpairs training checkpoint; start a new run")
            _check_resume(cfg, ckpt["config"])
            payload = ("ok", ckpt)
        except HardpairsError as err:
            payload = ("error", str(err))
    kind, value = broadcast_object(payload, env)
    if kind == "error":
        raise HardpairsError(str(value))
    return value if kind == "ok" else None  # type: ignore[return-value]


@dataclass
class _Run:
    """The state one training run carries from epoch to epoch (built by :func:`_start`)."""

    cfg: TrainConfig
    run_dir: Path
    env: DistEnv
    device: torch.device
    ctx: StepContext
    model: SimCLRModel
    x: torch.Tensor  # (n, C, H, W) uint8 on the device
    y: torch.Tensor  # (n,) int64 on the device
    batch: int
    steps: int
    total_steps: int
    warmup_steps: int
    labelled: bool
    start_epoch: int
    ckpt_path: Path
    t_start: float = 0.0


def _plan(cfg: TrainConfig, data: ImageDataset, keep: np.ndarray | None, env: DistEnv) -> tuple[np.ndarray, int, bool]:
    """``(kept indices (n,) int64, batch, labelled)``, after checking the job can be trained."""
    idx_all = np.arange(len(data.x_train)) if keep is None else np.asarray(keep, dtype=np.int64)
    n = len(idx_all)
    if n < 2:
        raise HardpairsError(
            f"only {n} training samples left; a contrastive batch needs at least 2 (lower the pruning ratio)"
        )
    batch = min(cfg.batch_size, n)
    local_batch(batch, env.world_size)
    labelled = bool((data.y_train >= 0).all())
    if cfg.loss_mode in LABEL_MODES and not labelled:
        raise HardpairsError(
            f"--loss-mode {cfg.loss_mode} needs labels, but {data.name} has unlabelled samples; use a label-free mode"
        )
    return idx_all, batch, labelled


def _start(cfg: TrainConfig, data: ImageDataset, run_dir: Path, keep: np.ndarray | None, resume: bool) -> _Run:
    """Join the process group, check the job, put the data and model on the device, load ``last.pt`` on resume."""
    env, device = setup_distributed(cfg.device)

    def log(message: str) -> None:
        if env.is_main:
            run_log(run_dir, message)

    torch.manual_seed(cfg.seed)
    idx_all, batch, labelled = _plan(cfg, data, keep, env)
    steps = len(idx_all) // batch
    total_steps = steps * cfg.epochs
    x = torch.from_numpy(np.ascontiguousarray(data.x_train[idx_all])).to(device)
    y = torch.from_numpy(np.asarray(data.y_train[idx_all], dtype=np.int64)).to(device)
    mean = torch.as_tensor(data.mean, dtype=torch.float32, device=device)
    std = torch.as_tensor(data.std, dtype=torch.float32, device=device)
    model, forward, opt = prepare_model(cfg, data.x_train.shape[1], device, env, log)
    start_epoch = 0
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    ckpt = _load_resume(ckpt_path, cfg, env) if resume else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start_epoch = int(ckpt["epoch"])
    ctx = StepContext(cfg, forward, opt, augment_config(cfg), mean, std, device, env)
    return _Run(
        cfg, run_dir, env, device, ctx, model, x, y, batch, steps, total_steps,
        min(cfg.warmup_epochs * steps, total_steps // 2), labelled, start_epoch, ckpt_path,
    )  # fmt: skip


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
        HardpairsError: NaN loss (the run is marked failed, the last good checkpoint kept),
            too few samples, a global batch not divisible by the processes, or an incompatible
            checkpoint on resume.
    """
    run = _start(cfg, data, Path(run_dir), keep, resume)
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


def _train_epoch(
    run: _Run,
    epoch: int,
    on_event: Callable[[dict[str, Any]], None] | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """One epoch of steps; returns (summed loss (scalar tensor on the device), rank 0's log-step pair stats)."""
    cfg, env, device = run.cfg, run.env, run.device
    g = _epoch_generator(cfg.seed, epoch, device)
    perm = torch.randperm(len(run.x), generator=g, device=device)
    loss_sum = torch.zeros((), device=device)
    stats: list[dict[str, Any]] = []
    for s in range(run.steps):
        if should_stop is not None and _stop_now(run, s, should_stop):
            raise TrainingStopped(epoch)
        bidx = perm[s * run.batch : (s + 1) * run.batch]
        views = make_views(run.ctx, run.x[bidx], g)
        lv = torch.cat([run.y[bidx], run.y[bidx]])
        log_step = (s + 1) % cfg.log_every == 0 or s == run.steps - 1
        lr = lr_at(epoch * run.steps + s, run.total_steps, run.warmup_steps, cfg.lr)
        loss, pairs, z = run_step(run.ctx, views, lv, lr, log_step)
        loss_sum += loss
        if not log_step:
            continue
        mean_loss = float(loss_sum) / (s + 1)  # host sync: log steps only
        if not math.isfinite(mean_loss):
            raise HardpairsError(
                f"the loss became {mean_loss} at epoch {epoch + 1}, step {s + 1}; training stopped and the "
                "last good checkpoint is kept. Lower --lr (or --temperature extremes) and start a new run"
            )
        if env.is_main:
            stats.append(_log_step(run, epoch, s, mean_loss, pairs, lv, z, on_event))
    return loss_sum, stats


def _stop_now(run: _Run, step: int, should_stop: Callable[[], bool]) -> bool:
    """The stop request, agreed on by every rank on log steps under torchrun."""
    if not run.env.enabled:
        return should_stop()
    return step % run.cfg.log_every == 0 and any_rank(bool(should_stop()), run.env, run.device)


def _log_step(
    run: _Run,
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
    st = pair_stats(pairs, lv if run.labelled else None)
    if cfg.monitor and run.labelled:
        st["monitor"] = monitor_losses(z.float(), lv, cfg.temperature, cfg.beta)
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


def _end_epoch(
    run: _Run,
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
    }
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
            },
        )

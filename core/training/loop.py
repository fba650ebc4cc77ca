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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.data.sources import ImageDataset
from core.errors import HardpairsError
from core.runs.folder import append_jsonl, update_status
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


def train(
    cfg: TrainConfig,
    data: ImageDataset,
    run_dir: str | Path,
    keep: np.ndarray | None = None,
    resume: bool = False,
    on_event: Callable[[dict], None] | None = None,
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
    run_dir = Path(run_dir)
    env, device = setup_distributed(cfg.device)
    main = env.is_main

    def log(message: str) -> None:
        if main:
            print(message, file=sys.stderr, flush=True)
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(run_dir / "log.txt", "a") as fh:
                fh.write(time.strftime("%H:%M:%S ") + message + "\n")

    torch.manual_seed(cfg.seed)
    idx_all = np.arange(len(data.x_train)) if keep is None else np.asarray(keep, dtype=np.int64)
    n = len(idx_all)
    if n < 2:
        raise HardpairsError(
            f"only {n} training samples left; a contrastive batch needs at least 2 (lower the pruning ratio)"
        )
    batch = min(cfg.batch_size, n)
    local_batch(batch, env.world_size)
    steps = n // batch
    total_steps = steps * cfg.epochs
    warmup_steps = min(cfg.warmup_epochs * steps, total_steps // 2)
    labelled = bool((data.y_train >= 0).all())
    if cfg.loss_mode in LABEL_MODES and not labelled:
        raise HardpairsError(
            f"--loss-mode {cfg.loss_mode} needs labels, but {data.name} has unlabelled samples; use a label-free mode"
        )

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

    def stop_now(step: int) -> bool:
        if not env.enabled:
            return should_stop()
        return step % cfg.log_every == 0 and any_rank(bool(should_stop()), env, device)

    model.train()
    t_start = time.time()
    last_loss, ips, images_done, train_time = float("nan"), 0.0, 0, 0.0
    for epoch in range(start_epoch, cfg.epochs):
        g = _epoch_generator(cfg.seed, epoch, device)
        perm = torch.randperm(n, generator=g, device=device)
        loss_sum = torch.zeros((), device=device)
        stats: list[dict] = []
        t_epoch = time.time()
        for s in range(steps):
            if should_stop is not None and stop_now(s):
                raise TrainingStopped(epoch)
            bidx = perm[s * batch : (s + 1) * batch]
            views = make_views(ctx, x[bidx], g)
            lv = torch.cat([y[bidx], y[bidx]])
            log_step = (s + 1) % cfg.log_every == 0 or s == steps - 1
            loss, pairs, z = run_step(
                ctx, views, lv, lr_at(epoch * steps + s, total_steps, warmup_steps, cfg.lr), log_step
            )
            loss_sum += loss
            if not log_step:
                continue
            mean_loss = float(loss_sum) / (s + 1)  # host sync: log steps only
            if not math.isfinite(mean_loss):
                raise HardpairsError(
                    f"the loss became {mean_loss} at epoch {epoch + 1}, step {s + 1}; training stopped and the "
                    "last good checkpoint is kept. Lower --lr (or --temperature extremes) and start a new run"
                )
            if not main:
                continue
            st = pair_stats(pairs, lv if labelled else None)
            if cfg.monitor and labelled:
                st["monitor"] = monitor_losses(z.float(), lv, cfg.temperature, cfg.beta)
            stats.append(st)
            done = (epoch - start_epoch) * steps + s + 1
            ips = done * batch / max(time.time() - t_start, 1e-9)
            event = {
                "kind": "step",
                "epoch": epoch + 1,
                "epochs": cfg.epochs,
                "step": s + 1,
                "steps": steps,
                "loss": mean_loss,
                "images_per_s": ips,
                "eta_s": (total_steps - epoch * steps - s - 1) * batch / max(ips, 1e-9),
            }
            update_status(run_dir, state="running", **{k: v for k, v in event.items() if k != "kind"})
            if on_event:
                on_event(event)
        last_loss = float(loss_sum) / steps
        images_done += steps * batch
        train_time += time.time() - t_epoch
        if not main:
            continue
        record = {
            "epoch": epoch + 1,
            "loss": last_loss,
            "lr": opt.param_groups[0]["lr"],
            "images_per_s": steps * batch / max(time.time() - t_epoch, 1e-9),
            "time": time.time(),
            "flagged_share": float(np.mean([st["flagged_share"] for st in stats])),
            "flagged_cross_class": float(np.nanmean([st["flagged_cross_class"] for st in stats])) if labelled else None,
        }
        if cfg.monitor and labelled:
            record["monitor"] = {k: float(np.mean([st["monitor"][k] for st in stats])) for k in stats[0]["monitor"]}
        append_jsonl(run_dir / "progress.jsonl", record)
        update_status(
            run_dir,
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
                ckpt_path,
                {
                    "format": FORMAT,
                    "version": 1,
                    "config": cfg.to_dict(),
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "metrics": {"loss": last_loss},
                },
            )
    wall = time.time() - t_start
    return TrainResult(
        epochs_done=cfg.epochs,
        final_loss=last_loss,
        images_per_s=images_done / max(train_time, 1e-9) if images_done else 0.0,
        wall_time_s=wall,
        model=model,
    )

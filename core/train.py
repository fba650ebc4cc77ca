"""The SimCLR trainer with the paper's in-batch difficult-pair selection.

One step: two batched GPU/CPU augmentations of the same images -> ``h, z = model(views)`` ->
``pairs = select_difficult_pairs(h)`` (paper modes only, no gradient) ->
``contrastive_loss(z, pairs, mode)`` -> optimizer step with a warm-up + cosine learning rate.

Speed: the training images stay on the device as uint8 (``(N, C, H, W)``) and are augmented
there, so no CPU workers feed the GPU; bf16 autocast and channels_last on CUDA, float32 on CPU;
the loop synchronises with the host only every ``log_every`` steps and at epoch ends.

Repeatability: the shuffling and augmentation of epoch ``e`` use a generator seeded with
``(seed, e)``, so an interrupted run resumed from its checkpoint continues exactly as an
uninterrupted one would (on the same device).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .augment import AugmentConfig, augment_batch
from .checkpoints import FORMAT, load_checkpoint_file, save_checkpoint
from .config import TrainConfig
from .data import ImageDataset
from .errors import HardpairsError
from .features import pick_device
from .loss import LABEL_MODES, contrastive_loss, monitor_losses, pair_stats, select_difficult_pairs
from .models import SimCLRModel
from .runs import append_jsonl, update_status

SELECTING_MODES = ("removal", "margin", "temperature", "combined")
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


def augment_config(cfg: TrainConfig) -> AugmentConfig:
    """The augmentation settings of a run."""
    return AugmentConfig(out_size=cfg.out_size, crop_scale=tuple(cfg.crop_scale), flip=cfg.flip,
                         jitter=tuple(cfg.jitter), jitter_p=cfg.jitter_p, gray_p=cfg.gray_p)


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total`` steps."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_model(cfg: TrainConfig, in_channels: int) -> SimCLRModel:
    return SimCLRModel(cfg.arch, in_channels, cfg.proj_hidden, cfg.proj_dim)


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """SGD (momentum, no weight decay on BN/bias) or AdamW; fused kernels on CUDA."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = {"fused": True} if device.type == "cuda" else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, **fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, **fused)
    raise HardpairsError(f"optimizer {cfg.optimizer!r} is not supported; use sgd or adamw")


def _epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed * 1_000_003 + epoch)
    return g


def _check_resume(cfg: TrainConfig, saved: dict) -> None:
    diff = sorted(k for k in set(saved) | set(cfg.to_dict())
                  if k not in _RESUMABLE and saved.get(k) != cfg.to_dict().get(k))
    if diff:
        raise HardpairsError(
            f"cannot resume: the checkpoint was trained with different settings ({', '.join(diff)}); "
            "resume with the run's own config.json or start a new run folder")


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
            too few samples, or an incompatible checkpoint on resume.
    """
    run_dir = Path(run_dir)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    idx_all = np.arange(len(data.x_train)) if keep is None else np.asarray(keep, dtype=np.int64)
    n = len(idx_all)
    if n < 2:
        raise HardpairsError(f"only {n} training samples left; a contrastive batch needs at least 2 (lower the pruning ratio)")
    batch = min(cfg.batch_size, n)
    steps = n // batch
    total_steps = steps * cfg.epochs
    warmup_steps = min(cfg.warmup_epochs * steps, total_steps // 2)

    x = torch.from_numpy(np.ascontiguousarray(data.x_train[idx_all])).to(device)
    y = torch.from_numpy(np.asarray(data.y_train[idx_all], dtype=np.int64)).to(device)
    labelled = bool((data.y_train >= 0).all())
    mean = torch.as_tensor(data.mean, dtype=torch.float32, device=device)
    std = torch.as_tensor(data.std, dtype=torch.float32, device=device)
    acfg = augment_config(cfg)

    model = build_model(cfg, data.x_train.shape[1]).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg, device)
    start_epoch = 0
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if resume and ckpt_path.exists():
        ckpt = load_checkpoint_file(ckpt_path)
        if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
            raise HardpairsError(f"{ckpt_path} is not a Hardpairs training checkpoint; start a new run")
        _check_resume(cfg, ckpt["config"])
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start_epoch = int(ckpt["epoch"])
    forward = model
    if cfg.compile:
        try:
            forward = torch.compile(model)
        except Exception as err:  # pragma: no cover - depends on the platform's compiler
            print(f"torch.compile unavailable ({err}); running eager", flush=True)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    needs_pairs = cfg.loss_mode in SELECTING_MODES
    if cfg.loss_mode in LABEL_MODES and not labelled:
        raise HardpairsError(f"--loss-mode {cfg.loss_mode} needs labels, but {data.name} has unlabelled samples; use a label-free mode")

    model.train()
    t_start = time.time()
    last_loss, ips, images_done, train_time = float("nan"), 0.0, 0, 0.0
    epoch = start_epoch
    for epoch in range(start_epoch, cfg.epochs):
        g = _epoch_generator(cfg.seed, epoch, device)
        perm = torch.randperm(n, generator=g, device=device)
        loss_sum = torch.zeros((), device=device)
        stats: list[dict] = []
        t_epoch = time.time()
        for s in range(steps):
            if should_stop is not None and should_stop():
                raise TrainingStopped(epoch)
            bidx = perm[s * batch:(s + 1) * batch]
            xb = x[bidx]
            views = torch.cat([augment_batch(xb, acfg, mean, std, g), augment_batch(xb, acfg, mean, std, g)])
            if device.type == "cuda":
                views = views.contiguous(memory_format=torch.channels_last)
            lv = torch.cat([y[bidx], y[bidx]])
            for group in opt.param_groups:
                group["lr"] = lr_at(epoch * steps + s, total_steps, warmup_steps, cfg.lr)
            with autocast:
                h, z = forward(views)
            log_step = (s + 1) % cfg.log_every == 0 or s == steps - 1
            pairs = None
            if needs_pairs or log_step:
                pairs = select_difficult_pairs(h.detach().float(), cfg.pos_high, cfg.pos_low, cfg.per_row)
            loss = contrastive_loss(z.float(), cfg.temperature, pairs if needs_pairs else None, cfg.loss_mode,
                                    sigma=cfg.sigma, rho=cfg.rho, labels=lv if cfg.loss_mode in LABEL_MODES else None,
                                    beta=cfg.beta, tau_plus=cfg.tau_plus, removal=cfg.removal)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            if log_step:
                st = pair_stats(pairs, lv if labelled else None)
                if cfg.monitor and labelled:
                    st["monitor"] = monitor_losses(z.detach().float(), lv, cfg.temperature, cfg.beta)
                stats.append(st)
                mean_loss = float(loss_sum) / (s + 1)  # the only host sync in the step loop
                if not math.isfinite(mean_loss):
                    raise HardpairsError(
                        f"the loss became {mean_loss} at epoch {epoch + 1}, step {s + 1}; training stopped and the "
                        "last good checkpoint is kept. Lower --lr (or --temperature extremes) and start a new run")
                done = (epoch - start_epoch) * steps + s + 1
                elapsed = time.time() - t_start
                ips = done * batch / max(elapsed, 1e-9)
                event = {"kind": "step", "epoch": epoch + 1, "epochs": cfg.epochs, "step": s + 1, "steps": steps,
                         "loss": mean_loss, "images_per_s": ips,
                         "eta_s": (total_steps - epoch * steps - s - 1) * batch / max(ips, 1e-9)}
                update_status(run_dir, state="running", **{k: v for k, v in event.items() if k != "kind"})
                if on_event:
                    on_event(event)
        last_loss = float(loss_sum) / steps
        images_done += steps * batch
        train_time += time.time() - t_epoch
        record = {"epoch": epoch + 1, "loss": last_loss, "lr": opt.param_groups[0]["lr"],
                  "images_per_s": steps * batch / max(time.time() - t_epoch, 1e-9), "time": time.time(),
                  "flagged_share": float(np.mean([st["flagged_share"] for st in stats])),
                  "flagged_cross_class": float(np.nanmean([st["flagged_cross_class"] for st in stats]))
                  if labelled else None}
        if cfg.monitor and labelled:
            record["monitor"] = {k: float(np.mean([st["monitor"][k] for st in stats])) for k in stats[0]["monitor"]}
        append_jsonl(run_dir / "progress.jsonl", record)
        update_status(run_dir, state="running", epoch=epoch + 1, epochs=cfg.epochs, loss=last_loss,
                      flagged_share=record["flagged_share"], step=steps, steps=steps)
        if on_event:
            on_event({"kind": "epoch", "epochs": cfg.epochs, **record})
        if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs:
            save_checkpoint(ckpt_path, {"format": FORMAT, "version": 1, "config": cfg.to_dict(), "epoch": epoch + 1,
                                        "model": model.state_dict(), "optimizer": opt.state_dict(),
                                        "metrics": {"loss": last_loss}})
    wall = time.time() - t_start
    return TrainResult(epochs_done=cfg.epochs, final_loss=last_loss,
                       images_per_s=images_done / max(train_time, 1e-9) if images_done else 0.0,
                       wall_time_s=wall, model=model)

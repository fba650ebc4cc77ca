"""One SimCLR training step, shared by the trainer (``core.training.loop``) and ``bench/train_speed.py``.

``make_views`` augments a global uint8 batch on the device into this rank's two views;
``run_step`` does forward -> gather -> ``select_difficult_pairs`` (paper modes, log steps) ->
``contrastive_loss`` -> backward -> optimizer step, with no host synchronisation, and redoes a
failed first ``torch.compile`` step eagerly. ``prepare_model`` builds the model, its (maybe
compiled, maybe DDP-wrapped) forward and the optimizer; ``lr_at`` is the warm-up + cosine schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor

from core.data.augment import AugmentConfig, augment_batch
from core.errors import HardpairsError
from core.models.models import SimCLRModel
from core.models.speed import SpeedSettings, optimizer_kwargs, speed_settings
from core.training.config import TrainConfig
from core.training.distributed import DistEnv, convert_batchnorm, gather_views, rank_rows
from core.training.loss import contrastive_loss, select_difficult_pairs
from core.training.lossmodes import LABEL_MODES, SELECTING_MODES
from core.training.moco import MoCoState, moco_loss, select_queue_pairs

#: what a step calls: (2m, C, S, S) views -> (h, z) features and projections
Forward = Callable[[Tensor], tuple[Tensor, Tensor]]


def augment_config(cfg: TrainConfig) -> AugmentConfig:
    """The augmentation settings of a run."""
    return AugmentConfig(
        out_size=cfg.out_size,
        crop_scale=cast(tuple[float, float], tuple(cfg.crop_scale)),  # a list when built by hand
        flip=cfg.flip,
        jitter=cast(tuple[float, float, float, float], tuple(cfg.jitter)),
        jitter_p=cfg.jitter_p,
        gray_p=cfg.gray_p,
    )


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total`` steps."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_model(cfg: TrainConfig, in_channels: int) -> SimCLRModel:
    return SimCLRModel(cfg.arch, in_channels, cfg.proj_hidden, cfg.proj_dim)


def build_optimizer(
    model: torch.nn.Module, cfg: TrainConfig, device: torch.device, speed: SpeedSettings | None = None
) -> torch.optim.Optimizer:
    """SGD (momentum, no weight decay on BN/bias), AdamW or Adam; fused kernels when ``speed`` says so
    (default: ``core.models.speed.speed_settings(device)``, on for CUDA)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused: dict[str, Any] = optimizer_kwargs(speed or speed_settings(device, cfg.compile))
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, **fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, **fused)
    if cfg.optimizer == "adam":  # the H-SCL code's optimiser: Adam, L2 weight decay in the gradient
        return torch.optim.Adam(groups, lr=cfg.lr, **fused)
    raise HardpairsError(f"optimizer {cfg.optimizer!r} is not supported; use sgd, adamw or adam")


class CompiledForward:
    """``torch.compile(module)``; on a failure of the first step, the eager ``module`` from then on.

    Compilation is lazy (it happens inside the first forward/backward), so :func:`run_step` redoes
    a failed first step eagerly with the same views and calls :meth:`fall_back`.
    """

    def __init__(self, module: Forward, log: Callable[[str], None]):
        self.eager, self.log, self.pending = module, log, True
        try:
            self.fn = torch.compile(module)
        except Exception as err:  # noqa: BLE001 - any compiler/platform failure means "run eager"
            self.fall_back(err)

    def fall_back(self, err: BaseException) -> None:
        first = (str(err).strip().splitlines() or [""])[0][:300]
        self.log(f"torch.compile failed ({type(err).__name__}: {first}); continuing without compilation")
        self.fn, self.pending = self.eager, False

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out: tuple[Tensor, Tensor] = self.fn(x)
        return out


@dataclass(frozen=True)
class StepContext:
    """Everything one training step needs. ``forward`` maps (2m, C, S, S) views to ``(h, z)``."""

    cfg: TrainConfig
    forward: Forward
    opt: torch.optim.Optimizer
    acfg: AugmentConfig
    mean: Tensor
    std: Tensor
    device: torch.device
    env: DistEnv = DistEnv()
    moco: MoCoState | None = None  # --method moco: key encoder and queue
    model: torch.nn.Module | None = None  # the query model (MoCo's momentum update reads it)
    speed: SpeedSettings | None = None  # None: speed_settings(device, cfg.compile), resolved once

    def __post_init__(self) -> None:
        if self.speed is None:
            object.__setattr__(self, "speed", speed_settings(self.device, self.cfg.compile))

    @property
    def settings(self) -> SpeedSettings:
        """The fast paths this step runs with (``core.models.speed``)."""
        assert self.speed is not None  # set by __post_init__
        return self.speed

    @property
    def needs_pairs(self) -> bool:
        return self.cfg.loss_mode in SELECTING_MODES


def make_views(ctx: StepContext, xb: Tensor, g: torch.Generator) -> Tensor:
    """Two views of a global batch ``xb`` (B, C, H, W) uint8 -> this rank's (2m, C, S, S) float views.

    The whole global batch is augmented on every rank with the shared generator (so the random
    stream is the one-process stream) and rank ``r`` keeps rows ``[r*m, (r+1)*m)`` of each view.
    """
    v1 = augment_batch(xb, ctx.acfg, ctx.mean, ctx.std, g)
    v2 = augment_batch(xb, ctx.acfg, ctx.mean, ctx.std, g)
    if ctx.env.enabled:
        rows = rank_rows(xb.shape[0], ctx.env)
        v1, v2 = v1[rows], v2[rows]
    views = torch.cat([v1, v2])
    if ctx.settings.channels_last:
        views = views.contiguous(memory_format=torch.channels_last)
    return views


def optimise_step(
    ctx: StepContext, views: Tensor, labels: Tensor, lr: float, log_step: bool
) -> tuple[Tensor, Tensor | None, Tensor]:
    """Forward, gather, select, loss, backward, optimizer step. No host synchronisation.

    Args:
        views: (2m, C, S, S) this rank's views. labels: (2B,) global labels per view (int64).
        lr: learning rate of this step. log_step: also select pairs in modes that do not need them.

    Returns:
        ``(loss, pairs, z)``: 0-d detached float32 global loss, (2B, 2B) bool flags or None,
        (2B, P) detached global projections.
    """
    cfg = ctx.cfg
    for group in ctx.opt.param_groups:
        group["lr"] = lr
    if ctx.moco is not None:
        return moco_step(ctx, ctx.moco, views, log_step)
    with ctx.settings.autocast(ctx.device):
        h, z = ctx.forward(views)
    z = gather_views(z, ctx.env, grad=True)
    pairs = None
    if ctx.needs_pairs or log_step:
        sel = z if cfg.select_on == "projector" else gather_views(h, ctx.env, grad=False)
        inclusive = cfg.selection == "inclusive"
        pairs = select_difficult_pairs(sel.detach().float(), cfg.pos_high, cfg.pos_low, cfg.per_row, inclusive)
    loss = contrastive_loss(
        z.float(),
        cfg.temperature,
        pairs if ctx.needs_pairs else None,
        cfg.loss_mode,
        sigma=cfg.sigma,
        rho=cfg.rho,
        labels=labels if cfg.loss_mode in LABEL_MODES else None,
        beta=cfg.beta,
        tau_plus=cfg.tau_plus,
        removal=cfg.removal,
        hard_threshold=cfg.hard_threshold,
    )
    ctx.opt.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt.step()
    return loss.detach(), pairs, z.detach()


def moco_step(
    ctx: StepContext, state: MoCoState, views: Tensor, log_step: bool
) -> tuple[Tensor, Tensor | None, Tensor]:
    """One MoCo v2 step (``core.training.moco``): queries from the first half of ``views``, keys
    from the second through the momentum encoder, the paper mode on the queue negatives.

    Returns ``(loss, pairs, z)`` like :func:`optimise_step`: ``pairs`` is the in-batch Eq. 12
    selection of ``[q, k]`` on log steps (for the flagged-share statistics), ``z`` is ``[q, k]``.
    """
    cfg, n = ctx.cfg, views.shape[0] // 2
    with ctx.settings.autocast(ctx.device):
        hq, q = ctx.forward(views[:n])
        kh, kz = state.keys(views[n:])
    assert state.queue_z is not None and state.queue_h is not None
    qsel, queue_sel = (q, state.queue_z) if cfg.select_on == "projector" else (hq, state.queue_h)
    inclusive = cfg.selection == "inclusive"
    flags = select_queue_pairs(qsel, queue_sel, cfg.pos_high, cfg.pos_low, inclusive) if ctx.needs_pairs else None
    loss = moco_loss(q, kz, state.queue_z, cfg.temperature, flags, cfg.loss_mode, cfg.sigma, cfg.rho, cfg.removal)
    ctx.opt.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt.step()
    assert ctx.model is not None
    state.momentum_update(ctx.model)
    state.enqueue(kh, kz)
    z = torch.cat([q.detach().float(), kz])
    pairs = None
    if log_step:
        both = torch.cat([hq.detach().float(), kh])
        pairs = select_difficult_pairs(both, cfg.pos_high, cfg.pos_low, cfg.per_row, inclusive)
    return loss.detach(), pairs, z


def run_step(
    ctx: StepContext, views: Tensor, labels: Tensor, lr: float, log_step: bool
) -> tuple[Tensor, Tensor | None, Tensor]:
    """:func:`optimise_step`, redone eagerly if the first compiled step fails."""
    fwd = ctx.forward
    if not (isinstance(fwd, CompiledForward) and fwd.pending):
        return optimise_step(ctx, views, labels, lr, log_step)
    try:
        out = optimise_step(ctx, views, labels, lr, log_step)
    except HardpairsError:
        raise
    except Exception as err:  # noqa: BLE001 - compiler failures come in many types
        fwd.fall_back(err)
        ctx.opt.zero_grad(set_to_none=True)
        out = optimise_step(ctx, views, labels, lr, log_step)
    fwd.pending = False
    return out


def prepare_model(
    cfg: TrainConfig,
    in_channels: int,
    device: torch.device,
    env: DistEnv = DistEnv(),
    log: Callable[[str], None] = print,
    speed: SpeedSettings | None = None,
) -> tuple[SimCLRModel, Forward, torch.optim.Optimizer]:
    """``(model, forward, optimizer)``: the model on ``device`` (global-batch BatchNorm and a DDP
    wrapper under torchrun), the callable a step runs and the optimizer. channels_last, fused
    kernels and ``torch.compile`` follow ``speed`` (default ``speed_settings(device, cfg.compile)``:
    the first two on CUDA; ``HARDPAIRS_SPEED`` overrides)."""
    speed = speed or speed_settings(device, cfg.compile)
    log(f"speed: {speed.describe()}")
    model = build_model(cfg, in_channels).to(device)
    if env.enabled:
        model = cast(SimCLRModel, convert_batchnorm(model, device))  # the root is no BatchNorm: same object
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg, device, speed)
    net: Forward = model
    if env.enabled:
        import inspect

        from torch.nn.parallel import DistributedDataParallel as DDP

        # BN buffers are already equal on every rank (global statistics): no per-forward buffer sync
        no_sync = (
            "forward_sync_buffers"
            if "forward_sync_buffers" in inspect.signature(DDP).parameters
            else "broadcast_buffers"
        )
        sync_off: dict[str, Any] = {no_sync: False}
        net = DDP(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            gradient_as_bucket_view=True,
            **sync_off,
        )
    return model, (CompiledForward(net, log) if speed.compile else net), opt

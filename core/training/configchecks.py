"""The numeric rules of a ``TrainConfig`` (counts, sizes, ranges), one ``(ok, message)`` pair per rule.

``TrainConfig.validate`` (``core/training/config.py``) runs the name/type checks first, then these, and
raises the first failed rule's message as a ``HardpairsError``. Each message names the flag, the value
and the allowed range. ``cfg`` is a ``TrainConfig`` (typed ``Any``: importing it here would be an import cycle).
"""

from __future__ import annotations

import math
from typing import Any

#: Smallest and largest image side accepted for --out-size and --image-size (pixels).
SIDE_RANGE = (8, 1024)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def is_number(value: Any, kind: Any) -> bool:
    if isinstance(value, bool):
        return False
    if kind is int or kind is str or isinstance(kind, tuple):
        return isinstance(value, kind)
    return isinstance(value, int | float) and math.isfinite(value)


def number_checks(cfg: Any) -> list[tuple[bool, str]]:
    """Counts and sizes (only meaningful once the types are right: ``TrainConfig.validate`` checks those first)."""
    lo, hi = SIDE_RANGE
    size = cfg.image_size
    return [
        (cfg.epochs >= 1, f"--epochs must be >= 1 (got {cfg.epochs})"),
        (cfg.batch_size >= 2, f"--batch-size must be >= 2 (got {cfg.batch_size})"),
        (cfg.warmup_epochs >= 0, f"--warmup-epochs must be >= 0 (got {cfg.warmup_epochs})"),
        (cfg.checkpoint_every >= 1, f"--checkpoint-every must be >= 1 epoch (got {cfg.checkpoint_every})"),
        (cfg.log_every >= 1, f"--log-every must be >= 1 step (got {cfg.log_every})"),
        (lo <= cfg.out_size <= hi, f"--out-size must be in [{lo}, {hi}] pixels (got {cfg.out_size})"),
        (
            size is None or (is_number(size, int) and lo <= size <= hi),
            f"--image-size must be an integer in [{lo}, {hi}] pixels (got {size!r})",
        ),
        (cfg.proj_hidden >= 1, f"--proj-hidden must be >= 1 (got {cfg.proj_hidden})"),
        (cfg.proj_dim >= 1, f"--proj-dim must be >= 1 (got {cfg.proj_dim})"),
        (2 <= cfg.queue_size <= 2**20, f"--queue-size must be in [2, 2**20] (2**20 ~ 2.4 GB; got {cfg.queue_size})"),
        (0 <= cfg.seed < 2**32, f"--seed must be in [0, 2**32) (got {cfg.seed})"),
        (0 <= cfg.mix_seed < 2**32, f"--mix-seed must be in [0, 2**32) (got {cfg.mix_seed})"),
    ]


def range_checks(cfg: Any) -> list[tuple[bool, str]]:
    """Real-valued settings: each in its documented range (all are finite by now)."""
    crop, jitter = tuple(cfg.crop_scale), tuple(cfg.jitter)
    ratio = cfg.prune_ratio
    bound = 1 / cfg.temperature if cfg.temperature > 0 else math.inf  # --temperature <= 0 is refused first
    return [
        (cfg.lr > 0, f"--lr must be > 0 (got {cfg.lr})"),
        (0 <= cfg.momentum <= 1, f"--momentum must be in [0, 1] (got {cfg.momentum})"),
        (cfg.weight_decay >= 0, f"--weight-decay must be >= 0 (got {cfg.weight_decay})"),
        (cfg.temperature > 0, f"--temperature must be > 0 (got {cfg.temperature})"),
        (
            0 <= cfg.pos_high < cfg.pos_low <= 1,
            f"need 0 <= --pos-high < --pos-low <= 1 (got --pos-high {cfg.pos_high}, --pos-low {cfg.pos_low})",
        ),
        (cfg.sigma >= 0, f"--sigma must be >= 0 (got {cfg.sigma})"),
        (cfg.rho > 0, f"--rho must be > 0 (got {cfg.rho})"),
        (cfg.beta >= 0, f"--beta must be >= 0 (got {cfg.beta})"),
        (0 <= cfg.tau_plus < 1, f"--tau-plus must be in [0, 1) (got {cfg.tau_plus})"),
        (
            abs(cfg.hard_threshold) <= bound,
            f"--hard-threshold is log t of H(x,f,t) = {{x- : e^(s/tau) >= t}}, compared with s/tau in "
            f"[-1/tau, 1/tau] = [{-bound:g}, {bound:g}] (got {cfg.hard_threshold})",
        ),
        (0 <= cfg.moco_momentum < 1, f"--moco-momentum must be in [0, 1) (got {cfg.moco_momentum})"),
        (0 <= cfg.mix < 1, f"--mix must be in [0, 1) (got {cfg.mix})"),
        (0 < cfg.mix_lambda < 1, f"--mix-lambda must be in (0, 1) (got {cfg.mix_lambda})"),
        (0 <= cfg.label_noise < 1, f"--label-noise must be in [0, 1) (got {cfg.label_noise})"),
        (0 <= cfg.jitter_p <= 1, f"jitter_p must be in [0, 1] (got {cfg.jitter_p})"),
        (0 <= cfg.gray_p <= 1, f"gray_p must be in [0, 1] (got {cfg.gray_p})"),
        (
            len(crop) == 2 and all(is_number(v, float) for v in crop) and 0 < crop[0] <= crop[1] <= 1,
            f"crop_scale must be (lo, hi) with 0 < lo <= hi <= 1 (got {crop})",
        ),
        (
            len(jitter) == 4 and all(is_number(v, float) and v >= 0 for v in jitter),
            f"jitter must be 4 finite numbers >= 0 (brightness, contrast, saturation, hue) (got {jitter})",
        ),
        (
            ratio is None or (is_number(ratio, float) and 0 <= ratio < 1),
            f"--prune-ratio must be in [0, 1) (got {ratio})",
        ),
    ]

"""``TrainConfig``: every setting of one training run, frozen, saved as ``config.json``.

A config is built from a preset (``core/training/presets.py``) plus explicit overrides, validated once,
printed when a command starts and stored in the run folder and inside every checkpoint, so a
run can be reproduced or resumed from its folder alone.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from core.errors import HardpairsError
from core.training.loss import REMOVAL_VARIANTS
from core.training.lossmodes import LOSS_MODES, PAPER_MODES
from core.training.presets import PAPER_KEYS, PRESETS, default_preset, preset_values

SELECTIONS = ("strict", "inclusive")  # Eq. 12's "<" at Sim_posHigh, or "<=" ("All samples" rows)
SELECT_ON = ("backbone", "projector")  # features the selection ranks (Table 7)
METHODS = ("simclr", "moco")
#: timm ViTs (core.training.models.FEATURE_DIMS) are for imported checkpoints (DINO, timm); trainable, sized for GPUs.
ARCHS: tuple[str, ...] = ("small_cnn", "resnet18", "resnet18_imagenet", "resnet50", "resnet50_imagenet")
ARCHS += tuple(f"vit_{v}_224" for v in ("tiny_patch16", "small_patch16", "small_patch8", "base_patch16", "base_patch8"))
OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """One SimCLR run. Field names are the ``train`` CLI flags with ``-`` -> ``_``."""

    dataset: str = "digits"
    preset: str = "quick"
    preset_from: str | None = None  # take the paper preset of this dataset key (e.g. cifar10) for a folder
    # model
    arch: str = "small_cnn"
    proj_hidden: int = 256
    proj_dim: int = 64
    # optimisation
    epochs: int = 30
    batch_size: int = 256
    optimizer: str = "adamw"
    lr: float = 3e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_epochs: int = 2
    # loss (paper Eq. 12-16 and the H-SCL baselines)
    temperature: float = 0.2
    loss_mode: str = "baseline"
    pos_high: float = 0.1
    pos_low: float = 0.17
    sigma: float = 0.1
    rho: float = 0.7
    per_row: bool = True
    removal: str = "zero"
    beta: float = 1.0
    tau_plus: float = 0.0
    hard_threshold: float = 0.0  # cosine cut of hard_scl_thr
    selection: str = "strict"
    select_on: str = "backbone"
    # MoCo v2 (core/training/moco.py): momentum encoder + queue
    method: str = "simclr"
    moco_momentum: float = 0.99
    queue_size: int = 4096
    # augmentation
    out_size: int = 32
    crop_scale: tuple[float, float] = (0.2, 1.0)
    flip: bool = True
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    # data
    mix: float = 0.0
    mix_lambda: float = 0.5
    mix_seed: int = 0  # seeds which images are mixed (separate from --seed: 3 seeds, one contaminated set)
    image_size: int | None = None
    keep: str | None = None  # path of a kept-indices .npy (pruned retrain)
    # provenance of a pruned retrain
    parent: str | None = None
    prune_score: str | None = None
    prune_ratio: float | None = None
    # running
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 10
    log_every: int = 20
    monitor: bool = False
    compile: bool = False
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. config.json); unknown keys are an error, lists become tuples."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise HardpairsError(f"unknown config keys {unknown}; valid keys are the `train` flags: {sorted(names)}")
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        if "mix_seed" not in fixed:  # a config.json written before --mix-seed: mixing used the training seed
            fixed["mix_seed"] = fixed.get("seed", 0)
        cfg = cls(**fixed)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise HardpairsError naming the flag, the bad value and the allowed range (first problem found)."""
        for group in (_choice_checks, _number_checks, _range_checks):  # types first: later groups compare numbers
            for ok, message in group(self):
                if not ok:
                    raise HardpairsError(message)


#: Smallest and largest image side accepted for --out-size and --image-size (pixels).
SIDE_RANGE = (8, 1024)
_DEVICE_RE = re.compile(r"(auto|cpu|cuda(:[0-9]+)?)")
_FLOAT_FIELDS = (
    "lr",
    "momentum",
    "weight_decay",
    "temperature",
    "pos_high",
    "pos_low",
    "sigma",
    "rho",
    "beta",
    "tau_plus",
    "hard_threshold",
    "moco_momentum",
    "mix",
    "mix_lambda",
    "jitter_p",
    "gray_p",
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


def _choice_checks(cfg: TrainConfig) -> list[tuple[bool, str]]:
    """Names chosen from a fixed list, the device syntax and the field types."""
    typed = [
        (_is_number(getattr(cfg, f), float), f"{_flag(f)} must be a finite number (got {getattr(cfg, f)!r})")
        for f in _FLOAT_FIELDS
    ]
    ints = (
        "epochs",
        "batch_size",
        "warmup_epochs",
        "out_size",
        "proj_hidden",
        "proj_dim",
        "seed",
        "mix_seed",
        "queue_size",
    )
    typed += [
        (_is_number(getattr(cfg, f), int), f"{_flag(f)} must be an integer (got {getattr(cfg, f)!r})") for f in ints
    ]
    typed += [
        (_is_number(getattr(cfg, f), int), f"{_flag(f)} must be an integer (got {getattr(cfg, f)!r})")
        for f in ("checkpoint_every", "log_every")
    ]
    return [
        *typed,
        (cfg.preset in PRESETS, f"--preset {cfg.preset!r} is unknown; use one of {PRESETS}"),
        (cfg.preset_from in (None, *PAPER_KEYS), f"--preset-from {cfg.preset_from!r} is unknown; use {PAPER_KEYS}"),
        (cfg.arch in ARCHS, f"--arch {cfg.arch!r} is unknown; use one of {ARCHS}"),
        (cfg.selection in SELECTIONS, f"--selection {cfg.selection!r} is unknown; use one of {SELECTIONS}"),
        (cfg.select_on in SELECT_ON, f"--select-on {cfg.select_on!r} is unknown; use one of {SELECT_ON}"),
        (cfg.method in METHODS, f"--method {cfg.method!r} is unknown; use one of {METHODS}"),
        (
            cfg.method != "moco" or cfg.loss_mode in PAPER_MODES,
            f"--method moco supports the paper modes ({', '.join(PAPER_MODES)}), not --loss-mode {cfg.loss_mode}",
        ),
        (cfg.optimizer in OPTIMIZERS, f"--optimizer {cfg.optimizer!r} is unknown; use one of {OPTIMIZERS}"),
        (
            cfg.loss_mode in LOSS_MODES,
            f"--loss-mode: loss mode {cfg.loss_mode!r} is unknown; use one of {', '.join(LOSS_MODES)}",
        ),
        (
            cfg.removal in REMOVAL_VARIANTS,
            f"--removal {cfg.removal!r} is unknown; use one of {', '.join(REMOVAL_VARIANTS)}",
        ),
        (
            isinstance(cfg.device, str) and _DEVICE_RE.fullmatch(cfg.device) is not None,
            f"--device must be auto, cpu, cuda or cuda:N (got {cfg.device!r})",
        ),
    ]


def _number_checks(cfg: TrainConfig) -> list[tuple[bool, str]]:
    """Counts and sizes (only meaningful once the types are right: :func:`_choice_checks` runs first)."""
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
            size is None or (_is_number(size, int) and lo <= size <= hi),
            f"--image-size must be an integer in [{lo}, {hi}] pixels (got {size!r})",
        ),
        (cfg.proj_hidden >= 1, f"--proj-hidden must be >= 1 (got {cfg.proj_hidden})"),
        (cfg.proj_dim >= 1, f"--proj-dim must be >= 1 (got {cfg.proj_dim})"),
        (cfg.queue_size >= 2, f"--queue-size must be >= 2 negatives (got {cfg.queue_size})"),
        (0 <= cfg.seed < 2**32, f"--seed must be in [0, 2**32) (got {cfg.seed})"),
        (0 <= cfg.mix_seed < 2**32, f"--mix-seed must be in [0, 2**32) (got {cfg.mix_seed})"),
    ]


def _range_checks(cfg: TrainConfig) -> list[tuple[bool, str]]:
    """Real-valued settings: each in its documented range (all are finite by now)."""
    crop, jitter = tuple(cfg.crop_scale), tuple(cfg.jitter)
    ratio = cfg.prune_ratio
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
        (-1 <= cfg.hard_threshold <= 1, f"--hard-threshold must be a cosine in [-1, 1] (got {cfg.hard_threshold})"),
        (0 <= cfg.moco_momentum < 1, f"--moco-momentum must be in [0, 1) (got {cfg.moco_momentum})"),
        (0 <= cfg.mix < 1, f"--mix must be in [0, 1) (got {cfg.mix})"),
        (0 < cfg.mix_lambda < 1, f"--mix-lambda must be in (0, 1) (got {cfg.mix_lambda})"),
        (0 <= cfg.jitter_p <= 1, f"jitter_p must be in [0, 1] (got {cfg.jitter_p})"),
        (0 <= cfg.gray_p <= 1, f"gray_p must be in [0, 1] (got {cfg.gray_p})"),
        (
            len(crop) == 2 and all(_is_number(v, float) for v in crop) and 0 < crop[0] <= crop[1] <= 1,
            f"crop_scale must be (lo, hi) with 0 < lo <= hi <= 1 (got {crop})",
        ),
        (
            len(jitter) == 4 and all(_is_number(v, float) and v >= 0 for v in jitter),
            f"jitter must be 4 finite numbers >= 0 (brightness, contrast, saturation, hue) (got {jitter})",
        ),
        (
            ratio is None or (_is_number(ratio, float) and 0 <= ratio < 1),
            f"--prune-ratio must be in [0, 1) (got {ratio})",
        ),
    ]


def read_config_file(path: str | os.PathLike[str], flag: str = "--config") -> dict[str, Any]:
    """The JSON object in a config file (e.g. a run's ``config.json``), with clear errors for the user.

    Raises:
        HardpairsError: the file is missing, unreadable, not JSON, or not a JSON object.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            values = json.load(fh)
    except FileNotFoundError:
        raise HardpairsError(f"{flag} {path} does not exist; pass a run's config.json") from None
    except (ValueError, OSError) as err:  # JSON syntax, bad encoding, a folder, no permission
        raise HardpairsError(f"{flag} {path} is not a readable JSON config ({err}); pass a run's config.json") from None
    if not isinstance(values, dict):
        raise HardpairsError(f"{flag} {path} holds a JSON {type(values).__name__}, not a config object")
    return values


def make_config(dataset: str = "digits", preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Preset values for ``dataset`` with ``overrides`` on top (``None`` overrides are ignored).

    Example: ``make_config("digits", loss_mode="combined", epochs=5)``.
    """
    preset = preset or default_preset(dataset)
    base = preset_values(preset, dataset, overrides.get("preset_from"))
    values: dict[str, Any] = {"dataset": dataset, "preset": preset, "mix_seed": 0, **base}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(values)

"""``TrainConfig``: every setting of one training run, frozen, saved as ``config.json``.

A config is built from a preset (``core/training/presets.py``) plus explicit overrides, validated once,
printed when a command starts and stored in the run folder and inside every checkpoint, so a
run can be reproduced or resumed from its folder alone.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

from core.errors import HardpairsError
from core.training.lossmodes import LOSS_MODES
from core.training.presets import PRESETS, default_preset, preset_values

ARCHS = ("small_cnn", "resnet18", "resnet18_imagenet")
OPTIMIZERS = ("sgd", "adamw")


@dataclass(frozen=True)
class TrainConfig:
    """One SimCLR run. Field names are the ``train`` CLI flags with ``-`` -> ``_``."""

    dataset: str = "digits"
    preset: str = "quick"
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
        cfg = cls(**fixed)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise HardpairsError naming the bad value and the valid range."""
        checks = [
            (self.preset in PRESETS, f"preset {self.preset!r} is unknown; use one of {PRESETS}"),
            (self.arch in ARCHS, f"arch {self.arch!r} is unknown; use one of {ARCHS}"),
            (self.optimizer in OPTIMIZERS, f"optimizer {self.optimizer!r} is unknown; use one of {OPTIMIZERS}"),
            (
                self.loss_mode in LOSS_MODES,
                f"loss mode {self.loss_mode!r} is unknown; use one of {', '.join(LOSS_MODES)}",
            ),
            (self.epochs >= 1, f"--epochs must be >= 1 (got {self.epochs})"),
            (self.batch_size >= 2, f"--batch-size must be >= 2 (got {self.batch_size})"),
            (self.lr > 0, f"--lr must be > 0 (got {self.lr})"),
            (self.temperature > 0, f"--temperature must be > 0 (got {self.temperature})"),
            (
                0 <= self.pos_high < self.pos_low <= 1,
                f"need 0 <= --pos-high < --pos-low <= 1 (got {self.pos_high}, {self.pos_low})",
            ),
            (self.rho > 0, f"--rho must be > 0 (got {self.rho})"),
            (0 <= self.mix < 1, f"--mix must be in [0, 1) (got {self.mix})"),
            (0 < self.mix_lambda < 1, f"--mix-lambda must be in (0, 1) (got {self.mix_lambda})"),
            (0 <= self.warmup_epochs, f"--warmup-epochs must be >= 0 (got {self.warmup_epochs})"),
            (self.removal in ("zero", "mask"), f"--removal must be 'zero' or 'mask' (got {self.removal})"),
            (
                self.device in ("auto", "cpu") or self.device.startswith("cuda"),
                f"--device must be auto, cpu or cuda[:N] (got {self.device})",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise HardpairsError(message)


def make_config(dataset: str = "digits", preset: str | None = None, **overrides: Any) -> TrainConfig:
    """Preset values for ``dataset`` with ``overrides`` on top (``None`` overrides are ignored).

    Example: ``make_config("digits", loss_mode="combined", epochs=5)``.
    """
    preset = preset or default_preset(dataset)
    values: dict[str, Any] = {"dataset": dataset, "preset": preset, **preset_values(preset, dataset)}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(values)

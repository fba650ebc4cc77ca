"""``TrainConfig``: every setting of one training run, frozen, saved as ``config.json``.

A config is built from a preset (``core/training/presets.py``) plus explicit overrides, validated once,
printed when a command starts and stored in the run folder and inside every checkpoint, so a
run can be reproduced or resumed from its folder alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import HardpairsError
from core.training.configchecks import flag_name, is_number, number_checks, range_checks
from core.training.loss import REMOVAL_VARIANTS
from core.training.lossmodes import LOSS_MODES, PAPER_MODES, cli_help
from core.training.presets import PAPER_KEYS, PRESETS, default_preset, method_defaults, preset_values

SELECTIONS = ("strict", "inclusive")  # Eq. 12's "<" at Sim_posHigh, or "<=" ("All samples" rows)
SELECT_ON = ("backbone", "projector")  # features the selection ranks (Table 7)
METHODS = ("simclr", "moco")
#: timm ViTs (core.models.models.FEATURE_DIMS) are for imported checkpoints (DINO, timm); trainable, sized for GPUs.
ARCHS: tuple[str, ...] = ("small_cnn", "resnet18", "resnet18_imagenet", "resnet50", "resnet50_imagenet")
ARCHS += tuple(f"vit_{v}_224" for v in ("tiny_patch16", "small_patch16", "small_patch8", "base_patch16", "base_patch8"))
OPTIMIZERS = ("sgd", "adamw", "adam")  # adam: L2 weight decay in the gradient (the H-SCL code's Adam)
_T = TypeVar("_T")


def _flag(default: _T, help: str, **argparse_extra: Any) -> _T:
    """A field that is also a ``train`` flag (``core/cli/run/train.py`` makes it from this metadata: help, e.g. choices;
    the type is the field's annotation, ``bool`` = ``store_true``; the default None: the preset decides)."""
    return field(default=default, metadata={"help": help, **argparse_extra})


_ARCH_HELP = "small_cnn (tiny images, CPU), resnet18/resnet50 (CIFAR stem; *_imagenet: ImageNet stem) or a timm ViT"


@dataclass(frozen=True)
class TrainConfig:
    """One SimCLR run. Field names are the ``train`` CLI flags with ``-`` -> ``_`` (the fields made with ``_flag``)."""

    dataset: str = "digits"  # its flag's help lists core.data.sources.DATASET_SPECS (core/cli/run/train.py)
    preset: str = _flag(
        "quick", "quick (CPU-sized; default for digits) or paper (the appendix values)", choices=PRESETS
    )
    preset_from: str | None = _flag(
        None,
        "with --preset paper: take this dataset's paper values (cifar10, cifar100, stl10, "
        "tinyimagenet, imagenet), e.g. for a folder: dataset",
    )
    # model
    arch: str = _flag("small_cnn", f"{_ARCH_HELP}: {', '.join(ARCHS)}")
    proj_hidden: int = 256
    proj_dim: int = 64
    # optimisation
    epochs: int = _flag(30, "training epochs (quick digits: 40, paper: 200)")
    batch_size: int = _flag(256, "images per batch (2 views each); paper: 512 on CIFAR")
    optimizer: str = _flag("adamw", "sgd, adamw or adam (Adam with L2 weight decay, as the H-SCL code)")
    lr: float = _flag(3e-3, "peak learning rate after warm-up")
    momentum: float = 0.9
    weight_decay: float = _flag(1e-4, "weight decay (not on BN/bias)")
    warmup_epochs: int = _flag(2, "linear warm-up epochs before the cosine decay")
    # loss (paper Eq. 12-16 and the H-SCL baselines)
    temperature: float = _flag(0.2, "base temperature tau of the contrastive loss (paper: 0.5 CIFAR-10, 0.1 CIFAR-100)")
    loss_mode: str = _flag("baseline", cli_help())
    pos_high: float = _flag(
        0.1, "posHigh: pairs above this top fraction of each row are taken as same-class (~1/classes)"
    )
    pos_low: float = _flag(
        0.17, "posLow: pairs between posHigh and this fraction are 'difficult' (paper: 0.22 CIFAR-10, 0.5 CIFAR-100)"
    )
    sigma: float = _flag(0.1, "margin added to difficult-pair logits (margin/combined; paper 0.03-0.1)")
    rho: float = _flag(0.7, "temperature factor on difficult pairs (temperature/combined; paper 0.6-0.7, <1)")
    per_row: bool = True
    removal: str = _flag(
        "zero", "removal variant: zero (Eq. 13, logit set to 0) or mask (dropped from the denominator)"
    )
    beta: float = _flag(1.0, "hardening strength of hard_ucl/hard_scl (0 = no tilt)")
    tau_plus: float = _flag(0.0, "class-prior debiasing of hard_ucl in [0, 1)")
    hard_threshold: float = _flag(
        0.0,
        "hard_scl_thr/hard_ucl_thr: log t of Jiang et al.'s H(x,f,t) = {x- : e^(s/tau) >= t}: only negatives "
        "with s/tau >= this count (t = e^-0.5: -0.5)",
    )
    selection: str = _flag(
        "strict",
        "strict (Eq. 12: s < Sim_posHigh) or inclusive (s <= Sim_posHigh; with --pos-high 0 "
        "--pos-low 1 every pair is flagged: the 'All samples' rows of Tables 2-3)",
    )
    select_on: str = _flag(
        "backbone", "features the selection ranks: backbone (pre-projector h, the paper's) or projector (Table 7)"
    )
    # MoCo v2 (core/training/moco.py): momentum encoder + queue
    method: str = _flag(
        "simclr", "simclr (default) or moco (MoCo v2: momentum encoder + queue; the paper modes act on the queue)"
    )
    moco_momentum: float = _flag(0.99, "MoCo key-encoder momentum (with --method moco: MoCo v2's 0.999)")
    queue_size: int = _flag(4096, "MoCo queue length (with --method moco: MoCo v2's 65536, clipped to fit the data)")
    # augmentation
    out_size: int = _flag(32, "training resolution in pixels")
    crop_scale: tuple[float, float] = (0.2, 1.0)
    flip: bool = True
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    # data
    mix: float = _flag(0.0, "Mixed-omega contamination: fraction of train images replaced by a mix with another class")
    mix_lambda: float = _flag(0.5, "weight of the original image in a mix")
    mix_seed: int = _flag(0, "seed of the Mixed-omega mix and of --label-noise (default 0: one set for every --seed)")
    label_noise: float = _flag(0.0, "label noise: fraction of train labels flipped to another class (seeded)")
    image_size: int | None = _flag(None, "resize source images to this size when loading")
    keep: str | None = _flag(None, "kept training indices (.npy) for a pruned retrain")
    # provenance of a pruned retrain
    parent: str | None = _flag(None, "parent run folder of a pruned retrain (provenance)")
    prune_score: str | None = _flag(None, "score used to prune (provenance)")
    prune_ratio: float | None = _flag(None, "pruning ratio (provenance)")
    # running
    seed: int = _flag(0, "seed for shuffling, augmentation and initialisation (mixing: --mix-seed)")
    device: str = _flag("auto", "auto, cpu or cuda[:N]")
    checkpoint_every: int = _flag(10, "write checkpoints/last.pt every this many epochs (and at the end)")
    log_every: int = _flag(20, "log (and sync with the device) every this many steps")
    monitor: bool = _flag(False, "log UCL/H-UCL/SCL/H-SCL values of the training batches (needs labels)")
    compile: bool = _flag(False, "use torch.compile (falls back to eager when unavailable)")
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
        for group in (_choice_checks, number_checks, range_checks):  # types first: later groups compare numbers
            for ok, message in group(self):
                if not ok:
                    raise HardpairsError(message)


_DEVICE_RE = re.compile(r"(auto|cpu|cuda(:[0-9]+)?)")


def _choice_checks(cfg: TrainConfig) -> list[tuple[bool, str]]:
    """Names chosen from a fixed list, the device syntax and the field types."""
    kinds: dict[str, tuple[Any, str]] = {"float": (float, "a finite number"), "int": (int, "an integer")}
    kinds |= {"str": (str, "text"), "str | None": ((str, type(None)), "text")}  # a read config may hold anything
    fields = {f.name: (getattr(cfg, f.name), f.type) for f in dataclasses.fields(cfg) if f.type in kinds}
    typed = [
        (is_number(v, kinds[t][0]), f"{flag_name(name)} must be {kinds[t][1]} (got {v!r})")
        for name, (v, t) in fields.items()
        if name != "created"
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
    return TrainConfig.from_dict(method_defaults(values, overrides))  # --method moco: MoCo v2's values

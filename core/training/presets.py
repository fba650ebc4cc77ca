"""Training presets: data in one place, not branches in code.

``paper`` holds the appendix values of Zhang et al. (ICLR 2026, App. A.3/A.5) for each dataset:
batch, lr, temperature, posHigh/posLow, sigma/rho. Where the paper is silent (optimizer,
schedule, weight decay, epochs, projector, augmentations) the values are our documented choices
(docs/paper-fidelity.md, one row per setting): SGD with Nesterov momentum 0.9
(``core.training.step.build_optimizer``: ``torch.optim.SGD(..., nesterov=True)``), weight decay
5e-4 on weights only (not BatchNorm or biases), 10 linear warm-up epochs then cosine decay to 0
per step (``core.training.step.lr_at``), 200 epochs, a Linear-BN-ReLU-Linear projector 512-512-128,
the standard SimCLR CIFAR augmentations.

``quick`` is sized for a laptop CPU: the small CNN, few epochs. It is the default for ``digits``
and gives a fast first look on any dataset.
"""

from __future__ import annotations

from typing import Any

from core.errors import HardpairsError

#: The standard SimCLR CIFAR augmentations and checkpoint cadence, shared by both presets.
_SIMCLR_COMMON: dict[str, Any] = {
    "crop_scale": (0.2, 1.0),
    "flip": True,
    "jitter": (0.4, 0.4, 0.4, 0.1),
    "jitter_p": 0.8,
    "gray_p": 0.2,
    "checkpoint_every": 10,
}

#: Values shared by every ``paper`` preset (our choices where the paper is silent).
_PAPER_COMMON: dict[str, Any] = {
    **_SIMCLR_COMMON,
    "arch": "resnet18",
    "epochs": 200,
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "warmup_epochs": 10,
    "proj_hidden": 512,
    "proj_dim": 128,
    "out_size": 32,
}

#: Per-dataset paper values (App. A.3, A.5). cifar10 also serves Mixed CIFAR-10.
_PAPER: dict[str, dict[str, Any]] = {
    "cifar10": {
        "batch_size": 512,
        "lr": 0.25,
        "temperature": 0.5,
        "pos_high": 0.15,
        "pos_low": 0.22,
        "sigma": 0.03,
        "rho": 0.6,
    },
    "cifar100": {
        "batch_size": 512,
        "lr": 0.5,
        "temperature": 0.1,
        "pos_high": 0.013,
        "pos_low": 0.5,
        "sigma": 0.1,
        "rho": 0.7,
    },
    "stl10": {
        "batch_size": 256,
        "lr": 0.5,
        "temperature": 0.1,
        "out_size": 96,
        "pos_high": 0.15,
        "pos_low": 0.22,
        "sigma": 0.1,
        "rho": 0.7,
    },
    "tinyimagenet": {  # App. A.3: ResNet-50 (the CIFAR stem at 64 px: our choice)
        "arch": "resnet50",
        "batch_size": 512,
        "lr": 0.5,
        "temperature": 0.5,
        "out_size": 64,
        "pos_high": 0.013,
        "pos_low": 0.5,
        "sigma": 0.1,
        "rho": 0.7,
    },
    "imagenet": {  # App. A.5: ResNet-18 at 96x96, 400 epochs (the ImageNet stem: our choice)
        "arch": "resnet18_imagenet",
        "epochs": 400,
        "batch_size": 1024,
        "lr": 0.1,
        "temperature": 0.07,
        "out_size": 96,
        "image_size": 96,
        "pos_high": 0.01,
        "pos_low": 0.5,
        "sigma": 0.1,
        "rho": 0.7,
    },
}
#: the datasets with paper values, for ``--preset-from``
PAPER_KEYS: tuple[str, ...] = tuple(_PAPER)

#: CPU-sized settings. posHigh ~ 1/(classes), posLow a little below, as the paper advises.
_QUICK: dict[str, Any] = {
    **_SIMCLR_COMMON,
    "arch": "small_cnn",
    "epochs": 30,
    "batch_size": 256,
    "optimizer": "adamw",
    "lr": 3e-3,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "warmup_epochs": 2,
    "temperature": 0.2,
    "pos_high": 0.1,
    "pos_low": 0.17,
    "sigma": 0.1,
    "rho": 0.7,
    "proj_hidden": 256,
    "proj_dim": 64,
    "out_size": 32,
    "monitor": True,
}

#: Dataset-specific adjustments applied on top of ``quick`` (digits are 8x8 and not mirror-symmetric).
_QUICK_DATASET: dict[str, dict[str, Any]] = {
    "digits": {"out_size": 16, "crop_scale": (0.5, 1.0), "flip": False, "epochs": 40},
}

PRESETS = ("quick", "paper")


def dataset_key(spec: str) -> str:
    """The preset key of a dataset spec: ``digits``, ``cifar10``, ... or ``folder``/``npz``.

    ``stl10+unlabeled`` is ``stl10``; ``tinyimagenet:PATH`` and ``imagenet:PATH`` are their dataset.
    """
    return spec.split(":", 1)[0].lower().split("+", 1)[0]


def _source_key(spec: str, preset_from: str | None) -> str:
    if preset_from is not None and preset_from not in _PAPER:
        raise HardpairsError(f"--preset-from {preset_from!r} is unknown; use one of {', '.join(PAPER_KEYS)}")
    return preset_from or dataset_key(spec)


def preset_note(name: str, spec: str, preset_from: str | None = None) -> str:
    """One sentence: which preset values ``spec`` got and why (logged, and kept in the manifest)."""
    key = dataset_key(spec)
    if name == "quick":
        hint = (
            f"--preset paper for {key}'s App. A.3/A.5 values"
            if key in _PAPER
            else ("pass --preset paper --preset-from cifar10 to use CIFAR-10's values")
        )
        return f"{key}: quick preset (CPU-sized; {hint})"
    if preset_from:
        return f"{key}: paper preset with {preset_from}'s values (--preset-from {preset_from})"
    if key in _PAPER:
        return f"{key}: paper preset ({key}'s values from App. A.3/A.5)"
    return (
        f"{key}: paper preset with cifar10's values (a 10-class, 32 px reading; "
        f"pass --preset-from one of {', '.join(PAPER_KEYS)} to take another dataset's)"
    )


def default_preset(spec: str) -> str:
    """``quick`` for the embedded ``digits``, ``paper`` for the paper's datasets, else ``quick``."""
    return "paper" if dataset_key(spec) in _PAPER else "quick"


def preset_values(name: str, spec: str, preset_from: str | None = None) -> dict[str, Any]:
    """The flat dict of TrainConfig fields a preset sets for a dataset spec (or ``preset_from``'s values).

    Raises:
        HardpairsError: unknown preset name or ``preset_from`` key.
    """
    key = _source_key(spec, preset_from)
    if preset_from is not None and name != "paper":  # it would be recorded in config.json but change nothing
        raise HardpairsError(f"--preset-from takes the paper values: use it with --preset paper, not --preset {name}")
    if name == "quick":
        return {**_QUICK, **_QUICK_DATASET.get(key, {})}
    if name == "paper":
        # Folders and npz files get the CIFAR-10 values (a 10-class, 32px reading) unless --preset-from says.
        return {**_PAPER_COMMON, **_PAPER.get(key, _PAPER["cifar10"])}
    raise HardpairsError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")


#: MoCo v2's published training defaults (Chen et al. 2020, arXiv:2003.04297, and its code ``main_moco.py
#: --mlp --aug-plus --cos``): SGD momentum 0.9, weight decay 1e-4, cosine decay without warm-up, InfoNCE
#: temperature 0.2, a 65536-key queue, key-encoder momentum 0.999; the lr is :data:`MOCO_LR_PER_256` per 256 images.
MOCO_V2: dict[str, Any] = {
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "warmup_epochs": 0,
    "temperature": 0.2,
    "queue_size": 65536,
    "moco_momentum": 0.999,
}
MOCO_LR_PER_256 = 0.03
#: how :func:`moco_note` names each value (the first four make the log line "MoCo v2 defaults: lr, tau, queue, m")
_MOCO_LABELS = {
    "lr": "lr",
    "temperature": "tau",
    "queue_size": "queue",
    "moco_momentum": "m",
    "optimizer": "optimizer",
    "momentum": "SGD momentum",
    "weight_decay": "weight decay",
    "warmup_epochs": "warm-up epochs",
}


def moco_v2_values(batch_size: int) -> dict[str, Any]:
    """MoCo v2's defaults for a batch: :data:`MOCO_V2` plus ``lr = 0.03 x batch / 256`` (MoCo's linear lr scaling)."""
    return {**MOCO_V2, "lr": MOCO_LR_PER_256 * batch_size / 256}


def method_defaults(values: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``values`` (a preset with the overrides on top) with MoCo v2's defaults where ``--method moco`` and no flag.

    ``given`` holds the explicit overrides (a None value = not given); they always win. The lr follows the
    final batch size. A method other than ``moco`` returns ``values`` unchanged.
    """
    if values.get("method") != "moco":
        return values
    moco = moco_v2_values(int(values.get("batch_size", 256)))
    return {**values, **{k: v for k, v in moco.items() if given.get(k) is None}}


def moco_note(cfg: dict[str, Any], queue: int | None = None, groups: int | None = None) -> str | None:
    """One sentence: which of a ``--method moco`` config's values are MoCo v2's defaults and which were set.

    A value equal to the default for the config's batch counts as the default. ``queue``: the queue length the
    run uses (``core.training.moco.queue_length``), shown when it differs; ``groups``: the shuffled-BatchNorm
    groups of the keys. None for other methods.
    """
    if cfg.get("method") != "moco":
        return None
    batch = int(cfg.get("batch_size") or 256)
    moco = moco_v2_values(batch)
    same: list[str] = []
    own: list[str] = []
    for key, label in _MOCO_LABELS.items():
        text = f"{label} {cfg.get(key):g}" if isinstance(cfg.get(key), int | float) else f"{label} {cfg.get(key)}"
        if key == "lr" and cfg.get(key) == moco[key]:
            text += f" (0.03 x {batch}/256)"
        if key == "queue_size" and queue is not None and queue != cfg.get(key):
            text += f" -> {queue} (at most one epoch's other batches)"
        (same if cfg.get(key) == moco[key] else own).append(text)
    note = f"MoCo v2 defaults: {', '.join(same) or 'none'}"
    note += f"; set explicitly: {', '.join(own)}" if own else ""
    return note + (f"; shuffled BatchNorm: keys in {groups} groups" if groups else "")

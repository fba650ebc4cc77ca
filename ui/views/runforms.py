"""What the Runs page's forms produce: ``train``/``import`` arguments and the planned run folder name.

Pure functions (no Streamlit calls), so the argv each form queues is unit-tested.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.rundir.names import check_run_name
from core.runs.pipeline import default_run_id
from core.training.config import TrainConfig, make_config
from core.training.presets import preset_values
from ui.views.lossform import flag_value

DATASETS = {
    "digits": "digits — 8×8 handwritten digits, embedded (offline, CPU-friendly)",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "stl10": "STL-10",
    "folder": "Image folder (one sub-folder per class)",
    "npz": ".npz file (x_train, y_train, x_test, y_test)",
}
#: dataset kinds that can be downloaded; the others are embedded or a local path
DOWNLOADABLE = ("cifar10", "cifar100", "stl10")
_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def train_argv(spec: str, preset: str, values: Mapping[str, Any], *, analyse: bool, download: bool) -> list[str]:
    """``train`` arguments: dataset, preset, and every value that differs from the preset.

    ``None`` values are left out, and so are ``mix``/``mix_lambda`` without a mix, ``label_noise`` 0 and
    ``device=auto``.
    """
    base = preset_values(preset, spec)
    argv = ["train", "--dataset", spec, "--preset", preset]
    for key, value in values.items():
        if value is None:
            continue
        if key in base and base[key] == value:
            continue
        if key in ("mix", "mix_lambda") and not values.get("mix"):
            continue
        if (key, value) in (("device", "auto"), ("label_noise", 0.0)):
            continue
        argv += ["--" + key.replace("_", "-"), flag_value(value)]
    if analyse:
        argv.append("--analyse")
    if download:
        argv.append("--download")
    return argv


def train_config(spec: str, preset: str, values: Mapping[str, Any]) -> TrainConfig:
    """The ``TrainConfig`` the train form's values give (``None`` values keep the preset's).

    Raises:
        HardpairsError: an invalid value (e.g. posLow <= posHigh), with the fix.
    """
    return make_config(spec, preset, **{k: v for k, v in values.items() if k in _FIELDS})


def planned_run_id(spec: str, preset: str, values: Mapping[str, Any]) -> str:
    """The run folder name the train form picks: ``core.runs.pipeline.default_run_id`` of its config."""
    return default_run_id(train_config(spec, preset, values))


def dataset_spec(kind: str, path: str = "") -> tuple[str | None, str | None]:
    """(spec, problem or None) of the dataset picker: ``kind``, or ``kind:path`` for folder/npz."""
    if kind not in ("folder", "npz"):
        return kind, None
    label = "folder path" if kind == "folder" else ".npz path"
    if not path.strip():
        return None, f"Enter the {label} of the dataset."
    problem = None
    if not Path(path.strip()).expanduser().exists():
        problem = f"{path} does not exist; enter an existing {'folder' if kind == 'folder' else '.npz file'}."
    return f"{kind}:{path.strip()}", problem


def import_argv(checkpoint: str, dataset: str, arch: str, name: str = "") -> list[str]:
    """``import`` arguments of the checkpoint form (placeholders while a field is empty)."""
    argv = ["import", "--checkpoint", checkpoint or "CHECKPOINT.pt", "--dataset", dataset or "digits"]
    if arch != "auto":
        argv += ["--arch", arch]
    return argv + (["--name", name] if name else [])


def import_run_name(checkpoint: str, name: str = "") -> str:
    """The run folder an import writes: ``name``, else ``import-<checkpoint stem>-<YYYYmmdd-HHMMSS>``.

    Raises:
        HardpairsError: ``name`` is not one safe path component (``core.rundir.names.check_run_name``).
    """
    if name:
        return check_run_name(name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(checkpoint).stem).strip(".-") or "checkpoint"
    return check_run_name(f"import-{stem}-{time.strftime('%Y%m%d-%H%M%S')}")

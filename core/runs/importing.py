"""Import a checkpoint (Hardpairs, torchvision/timm ResNet-18/50, lightly, solo-learn/Lightning, timm ViT)
as a new run folder. Grayscale data into a 3-channel backbone has its channel repeated; the run's log and
``manifest.json`` (``channel_repeat``) say so. Python objects the checkpoint pickles besides its tensors
(hyper-parameters, module classes) are never run; ``manifest.json`` (``checkpoint_objects_not_loaded``)
and the log name them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from core.errors import HardpairsError
from core.io import write_json
from core.rundir.folder import update_status
from core.rundir.lock import run_lock
from core.training.config import make_config


def import_run(
    checkpoint: str | os.PathLike[str],
    dataset: str | None = None,
    arch: str | None = None,
    out_size: int | None = None,
    image_size: int | None = None,
    run_dir: str | None = None,
    name: str | None = None,
    runs_root: str | None = None,
    download: bool = False,
) -> dict[str, Any]:
    """Import a foreign or own checkpoint into a new run folder, then extract features and probe.

    Returns:
        ``run_dir, arch`` (+ ``linear_acc``, ``knn_acc`` on labelled data).

    Raises:
        HardpairsError: an unreadable checkpoint, an ``arch`` that does not match it, or a dataset
            whose channel count does not match it (other than 1-channel data into a 3-channel backbone).
    """
    from core.models.checkpoints import load_backbone_state
    from core.runs.pipeline import discard_new_run_dir, load_run_data, new_run_dir

    detected, in_ch, state, saved_cfg = load_backbone_state(checkpoint)
    if arch not in (None, "auto") and arch != detected:
        raise HardpairsError(
            f"--arch {arch} given, but the checkpoint is a {detected}; drop --arch or pass --arch {detected}"
        )
    base = {k: v for k, v in (saved_cfg or {}).items() if k != "created"}
    overrides = {
        "arch": detected,
        "dataset": dataset or base.get("dataset", "digits"),
        "epochs": base.get("epochs", 1),
    }
    if out_size is not None:
        overrides["out_size"] = out_size
    if image_size is not None:  # the size images are decoded (and stored) at; extraction resizes to out_size
        overrides["image_size"] = image_size
    cfg = make_config(
        overrides.pop("dataset"),
        base.get("preset"),
        **{**{k: v for k, v in base.items() if k not in ("dataset", "preset")}, **overrides},
    )
    data = load_run_data(cfg, download=download)
    data_ch = int(data.x_train.shape[1])
    if data_ch != in_ch and not (data_ch == 1 and in_ch == 3):
        raise HardpairsError(
            f"the checkpoint expects {in_ch}-channel images but {data.spec} has {data_ch}; "
            "choose a dataset with matching channels"
        )
    folder = new_run_dir(cfg, run_dir, name, runs_root)
    repeat = {"from": data_ch, "to": in_ch} if data_ch != in_ch else None
    try:
        with run_lock(folder):  # while it runs, `runs` shows it running; if it dies, interrupted
            return _write_import(folder, checkpoint, cfg, data, state, detected, repeat)
    except BaseException:
        discard_new_run_dir(folder)  # a failed import leaves no folder: only the one this call created goes
        raise


def _write_import(
    folder: Path,
    checkpoint: str | os.PathLike[str],
    cfg: Any,
    data: Any,
    state: dict[str, Any],
    detected: str,
    repeat: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Write the imported run's config, manifest and checkpoint, then extract features and probe."""
    from core.device import pick_device
    from core.io import run_log
    from core.models.checkpoints import FORMAT, save_checkpoint
    from core.models.standins import pickled_objects
    from core.runs.manifest import make_manifest
    from core.runs.pipeline import probe_run

    write_json(folder / "config.json", cfg.to_dict())
    manifest = make_manifest(folder.name, cfg.to_dict(), data, None, pick_device(cfg.device))
    manifest["imported_from"] = str(Path(checkpoint).resolve())
    manifest["checkpoint_sha1"] = file_sha1(checkpoint)  # one source, however often imported (records.one_per_source)
    manifest["channel_repeat"] = repeat
    manifest["checkpoint_objects_not_loaded"] = not_loaded = pickled_objects(checkpoint)
    if not_loaded:
        run_log(
            folder,
            f"the checkpoint also pickles {len(not_loaded)} Python classes/functions ({', '.join(not_loaded[:6])}"
            f"{', ...' if len(not_loaded) > 6 else ''}); they were read as inert stand-ins, never run: only its "
            "tensors were used",
        )
    if repeat:
        run_log(
            folder,
            f"{data.spec} has {repeat['from']}-channel images and the {detected} checkpoint takes {repeat['to']}: "
            f"the channel is repeated {repeat['to']} times at feature extraction (torchvision's answer for grayscale)",
        )
    write_json(folder / "manifest.json", manifest)
    save_checkpoint(
        folder / "checkpoints" / "last.pt",
        {
            "format": FORMAT,
            "version": 1,
            "config": cfg.to_dict(),
            "epoch": 0,
            "model": {f"backbone.{k}": v for k, v in state.items()},
            "optimizer": {},
            "metrics": {},
        },
    )
    update_status(folder, state="running", message="extracting features and probing")
    out: dict[str, Any] = {
        "run_dir": str(folder),
        "arch": detected,
        "channel_repeat": repeat,
        "checkpoint_objects_not_loaded": not_loaded,
    }
    if (data.y_train >= 0).all():
        metrics = probe_run(folder, data)
        out.update(linear_acc=metrics["linear_acc"], knn_acc=metrics["knn_acc"])
    else:
        from core.runs.pipeline import extract_run_features

        extract_run_features(folder, data)
    update_status(folder, state="done", message="imported")
    return out


def file_sha1(path: str | os.PathLike[str]) -> str:
    """The sha1 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()

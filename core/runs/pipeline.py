"""Run-level steps shared by the CLI and jobs: create a run folder, load its data and backbone,
extract its features, probe it. Each step reads and writes the run folder (``core/rundir/folder.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.sources import ImageDataset, load_dataset
from core.device import pick_device
from core.errors import HardpairsError
from core.idsets import unique_ids
from core.io import read_json, save_npz, write_json
from core.models.checkpoints import load_backbone_state, load_into_backbone
from core.models.features import extract_features
from core.models.models import build_backbone
from core.rundir.featurefile import features_mtime, open_features
from core.rundir.folder import require_run, runs_root, status_progress
from core.rundir.lock import edit_lock
from core.rundir.names import child_path, is_inside
from core.training.config import TrainConfig


def default_run_id(cfg: TrainConfig) -> str:
    """``<dataset>-<loss_mode>[-p<score><ratio>]-s<seed>-<YYYYmmdd-HHMMSS>`` (filesystem-safe)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", cfg.dataset.split(":")[-1].strip("/").split("/")[-1] or "data")
    if ":" in cfg.dataset:
        name = cfg.dataset.split(":")[0] + "-" + name
    prune = f"-p{cfg.prune_score}{cfg.prune_ratio:g}" if cfg.prune_score else ""
    mix = f"-mix{cfg.mix:g}" if cfg.mix else ""
    return f"{name}{mix}-{cfg.loss_mode}{prune}-s{cfg.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


#: run folders (and the missing parents made with them) that this process created: the only ones
#: a failure cleanup may remove (:func:`discard_new_run_dir`). Maps the run folder to its topmost new parent.
_CREATED: dict[Path, Path] = {}


def new_run_dir(cfg: TrainConfig, run_dir: str | None = None, name: str | None = None, root: str | None = None) -> Path:
    """Choose and create a fresh run folder; never reuse a folder that exists.

    ``name`` must be one path component (:func:`core.rundir.names.check_run_name`); an explicit
    ``run_dir`` must not exist yet (not even empty: it may be a user's). Whether this call created the
    folder is answered by :func:`created_here`.

    Raises:
        HardpairsError: a bad name, a runs root that is a file, a folder that holds a run or
            anything else, or a folder that cannot be created (read-only, ``/proc``, a file in the way).
    """
    if run_dir:
        path, flag = Path(run_dir), "--run-dir"
    else:
        base = runs_root(root)
        if base.exists() and not base.is_dir():
            raise HardpairsError(f"--runs-root {base} is a file, not a folder; pass the folder that holds your runs")
        flag = "--name"
        if name is not None:
            path = child_path(base, name)
        else:
            path = base / default_run_id(cfg)
            k = 1
            while path.exists():  # two runs started in the same second
                k += 1
                path = base / f"{default_run_id(cfg)}-{k}"
    _refuse_existing(path, flag)
    system = next((d for d in ("/proc", "/sys", "/dev") if is_inside(path, d)), None)
    if system:
        raise HardpairsError(f"{flag} {path} is under {system}, a system folder; pass a folder for your runs")
    top = _first_missing(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HardpairsError(
            f"cannot create the run folder {path} ({err.strerror or err}); pass a {flag} in a folder you can write"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise HardpairsError(f"the run folder {path} is not writable; pass a {flag} in a folder you can write")
    if top is not None:
        _CREATED[path.resolve()] = top.resolve()
    return path


def _refuse_existing(path: Path, flag: str) -> None:
    """Refuse a ``path`` that exists: a file, a run, or any other folder (a user's)."""
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise HardpairsError(f"{flag} {path} is a file, not a folder; pass a new folder for the run")
    if (path / "config.json").exists():
        raise HardpairsError(
            f"run folder {path} already exists and holds a run; it is never overwritten. "
            "Pass --resume to continue it, or choose another --run-dir/--name"
        )
    raise HardpairsError(
        f"{flag} {path} exists and is not a run folder (no config.json); Hardpairs never writes into "
        "or empties a folder it did not make. Pass a new folder for the run"
    )


def _first_missing(path: Path) -> Path | None:
    """The topmost folder of ``path`` (or ``path`` itself) that does not exist yet; None if it exists."""
    if path.exists():
        return None
    top = path
    for parent in path.parents:
        if parent.exists():
            break
        top = parent
    return top


def created_here(path: str | os.PathLike[str]) -> bool:
    """True when :func:`new_run_dir` in this process created ``path`` (and it was not discarded since)."""
    return Path(path).resolve() in _CREATED


def discard_new_run_dir(path: str | os.PathLike[str]) -> bool:
    """Remove ``path`` after a failure, but only when this process created it (and its new empty parents).

    Never touches a folder it did not create. Returns whether anything was removed.
    """
    key = Path(path).resolve()
    top = _CREATED.pop(key, None)
    if top is None:
        return False
    shutil.rmtree(key, ignore_errors=True)
    for parent in key.parents:  # parents made with it, while they are still empty
        if parent != top and top not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:
            break
    return True


def run_config(run_dir: str | Path) -> TrainConfig:
    """The TrainConfig stored in a run folder."""
    return TrainConfig.from_dict(read_json(require_run(run_dir) / "config.json"))


def load_run_data(cfg: TrainConfig, download: bool = False) -> ImageDataset:
    """The (possibly Mixed-omega, possibly label-noisy) dataset a config names."""
    return load_dataset(
        cfg.dataset,
        mix=cfg.mix,
        mix_lambda=cfg.mix_lambda,
        seed=cfg.mix_seed,
        download=download,
        image_size=cfg.image_size,
        label_noise=cfg.label_noise,
    )


def load_keep(path: str | Path, n_train: int) -> np.ndarray:
    """Validated kept training indices from a ``.npy`` file: (K,) int64, sorted, unique, in range."""
    path = Path(path)
    try:
        keep = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise HardpairsError(f"--keep file {path} does not exist; make one with `python -m core prune`") from None
    except ValueError as err:
        raise HardpairsError(f"--keep file {path} is not a plain .npy array of indices ({err})") from None
    if keep.ndim != 1 or not np.issubdtype(keep.dtype, np.integer):
        raise HardpairsError(
            f"--keep file {path} must hold a 1-D integer array of training indices, got {keep.dtype} {keep.shape}"
        )
    keep = unique_ids(keep)
    if len(keep) and (keep[0] < 0 or keep[-1] >= n_train):
        raise HardpairsError(f"--keep file {path} has indices outside [0, {n_train}); it was made for another dataset")
    if len(keep) < 2:
        raise HardpairsError(f"--keep file {path} keeps {len(keep)} samples; at least 2 are needed")
    return keep


def load_run_backbone(run_dir: str | Path, device: torch.device) -> torch.nn.Module:
    """The run's backbone from ``checkpoints/last.pt`` (weights_only), in eval mode on ``device``."""
    ckpt = Path(run_dir) / "checkpoints" / "last.pt"
    if not ckpt.exists():
        raise HardpairsError(
            f"{run_dir} has no checkpoint yet (checkpoints/last.pt); train it first or resume it "
            f"with `python -m core train --resume --run-dir {run_dir}`"
        )
    arch, in_ch, state, _ = load_backbone_state(ckpt)
    backbone = build_backbone(arch, in_ch)
    load_into_backbone(backbone, state, str(ckpt))
    return backbone.to(device).eval()


def extract_run_features(
    run_dir: str | Path, data: ImageDataset | None = None, device: torch.device | None = None, force: bool = False
) -> dict[str, np.ndarray]:
    """Write ``features.npz`` (train (N, D), test (M, D) float32, y_train, y_test) for all samples.

    Reuses the run's current features (either format, ``core.rundir.featurefile``, memory-mapped)
    unless the checkpoint is newer or ``force``.
    """
    run_dir = Path(run_dir)
    out = run_dir / "features.npz"
    ckpt = run_dir / "checkpoints" / "last.pt"
    stamp = features_mtime(run_dir)
    if stamp is not None and not force and (not ckpt.exists() or stamp >= ckpt.stat().st_mtime):
        try:
            return open_features(run_dir)
        except HardpairsError:  # unreadable features are extracted again below
            pass
    cfg = run_config(run_dir)
    device = device or pick_device(cfg.device)
    data = data or load_run_data(cfg)
    backbone = load_run_backbone(run_dir, device)
    args = (cfg.out_size, data.mean, data.std, device)
    feats = {
        "train": extract_features(backbone, data.x_train, *args, progress=status_progress(run_dir, "train features")),
        "test": extract_features(backbone, data.x_test, *args, progress=status_progress(run_dir, "test features")),
        "y_train": data.y_train.astype(np.int64),
        "y_test": data.y_test.astype(np.int64),
    }
    if not np.isfinite(feats["train"]).all():
        raise HardpairsError(f"the features of {run_dir} contain NaN/inf; the checkpoint is broken -- retrain the run")
    save_npz(out, **feats)
    return feats


def check_checkpoint_arch(run_dir: str | Path) -> None:
    """Refuse a run whose ``checkpoints/last.pt`` is of another architecture than its ``config.json`` says."""
    cfg = run_config(run_dir)
    ckpt = Path(run_dir) / "checkpoints" / "last.pt"
    if not ckpt.exists():
        return
    arch, _, _, _ = load_backbone_state(ckpt)
    if arch != cfg.arch:
        raise HardpairsError(
            f"{ckpt} is a {arch} checkpoint but {Path(run_dir) / 'config.json'} says arch {cfg.arch}; the "
            "checkpoint belongs to another run -- put that run's last.pt back, or import this one as a new run "
            f"with `python -m core import --checkpoint {ckpt}`"
        )


def probe_run(
    run_dir: str | Path,
    data: ImageDataset | None = None,
    device: torch.device | None = None,
    *,
    protocol: str = "lbfgs",
    knn_k: int | None = None,
    knn_t: float | None = None,
    knn_preset: str = "default",
) -> dict[str, Any]:
    """Linear-probe and weighted-kNN test accuracy of a run's frozen features -> ``metrics.json``,
    and the per-sample test predictions -> ``predictions.npz`` (y_true, linear_pred, knn_pred (M,)
    int64; protocol, knn_k, knn_t). See ``core.analysis.probe.probe_config`` for the settings."""
    from core.analysis.probe import describe, probe_config, probe_predictions

    check_checkpoint_arch(run_dir)
    feats = extract_run_features(run_dir, data, device)
    labelled = feats["y_train"] >= 0  # stl10+unlabeled: the probe sees the labelled rows only
    if not labelled.any():
        raise HardpairsError(
            "this dataset has no labels, so linear-probe and kNN accuracy cannot be computed; "
            "the label-free scores and maps still work"
        )
    if not labelled.all():
        feats = {**feats, "train": feats["train"][labelled], "y_train": feats["y_train"][labelled]}
    cfg = run_config(run_dir)
    pcfg = probe_config(cfg.dataset, protocol, knn_k, knn_t, knn_preset, seed=cfg.seed)
    t0 = time.time()
    pred = probe_predictions(feats["train"], feats["y_train"], feats["test"], feats["y_test"], pcfg)
    info = describe(pcfg)
    save_npz(
        Path(run_dir) / "predictions.npz",
        **pred,
        protocol=np.array(pcfg.protocol),
        knn_k=np.array(pcfg.knn_k),
        knn_t=np.array(pcfg.knn_t),
    )
    new = {
        "linear_acc": float((pred["linear_pred"] == pred["y_true"]).mean()),
        "knn_acc": float((pred["knn_pred"] == pred["y_true"]).mean()),
        "probe_seconds": time.time() - t0,
        "protocol": pcfg.protocol,
        "probe": info,
    }
    with edit_lock(run_dir, "metrics"):  # read-modify-write of metrics.json
        metrics = (read_json(Path(run_dir) / "metrics.json", {}) or {}) | new
        write_json(Path(run_dir) / "metrics.json", metrics)
    return metrics

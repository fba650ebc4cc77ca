"""Provenance written to ``manifest.json``: what data, code, packages and device made a run."""

from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HardpairsError
from core.io import REPO_ROOT, write_json
from core.rundir.folder import read_run_json

_PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "faiss-cpu", "umap-learn", "streamlit", "plotly")


def git_commit(root: Path = REPO_ROOT) -> str:
    """``<sha>`` of HEAD, with ``+dirty`` when the tree has changes; ``unknown`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a result."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_description(device: Any) -> str:
    """``cpu (N threads)`` or the CUDA device name."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"


def indices_sha1(indices: np.ndarray | None) -> str | None:
    """sha1 of the sorted int64 kept indices, or None for 'all samples'."""
    if indices is None:
        return None
    return hashlib.sha1(np.sort(np.asarray(indices, dtype=np.int64)).tobytes()).hexdigest()


def _preset_note(cfg: dict[str, Any]) -> str | None:
    from core.training.presets import preset_note

    try:
        return preset_note(str(cfg.get("preset")), str(cfg.get("dataset")), cfg.get("preset_from"))
    except HardpairsError:
        return None


def _moco_note(cfg: dict[str, Any], n: int) -> str | None:
    """``--method moco``: which values are MoCo v2's defaults (``core.training.presets.moco_note``), else None."""
    from core.training.moco import bn_groups, queue_length
    from core.training.presets import moco_note

    if cfg.get("method") != "moco":
        return None
    batch = min(int(cfg.get("batch_size") or 256), n)
    return moco_note(cfg, queue_length(int(cfg.get("queue_size") or 0), batch, n), bn_groups(batch))


def make_manifest(run_id: str, cfg: dict[str, Any], data: Any, keep: np.ndarray | None, device: Any) -> dict[str, Any]:
    """The initial manifest of a run (``wall_time_s`` is filled in when it finishes)."""
    prune = None
    if cfg.get("prune_score") is not None:
        prune = {"score": cfg["prune_score"], "ratio": cfg.get("prune_ratio")}
    return {
        "run_id": run_id,
        "created": time.time(),
        "dataset": data.spec,
        "fingerprint": data.fingerprint,
        "n_train": int(len(data.x_train)),
        "n_test": int(len(data.x_test)),
        "classes": list(data.classes),
        "n_mixed": int(np.asarray(data.mixed).sum()),
        "label_noise": cfg.get("label_noise") or 0.0,
        "n_noisy": int(np.asarray(data.noisy).sum()),
        "seed": cfg.get("seed"),
        "mix_seed": cfg.get("mix_seed"),
        "preset_note": _preset_note(cfg),
        "moco_note": _moco_note(cfg, int(len(keep)) if keep is not None else int(len(data.x_train))),
        "keep_sha1": indices_sha1(keep),
        "n_kept": int(len(keep)) if keep is not None else int(len(data.x_train)),
        "parent": cfg.get("parent"),
        "prune": prune,
        "git_commit": git_commit(),
        "versions": package_versions(),
        "device": device_description(device),
        "hostname": socket.gethostname(),
        "wall_time_s": None,
    }


def complete_manifest(run_dir: Path, fresh: dict[str, Any], epochs: int) -> None:
    """On resume: give ``manifest.json`` every key of ``fresh`` (a new manifest) it lacks or holds as
    None (the first attempt may have died before writing it; a corrupt one is rebuilt), keep its
    own values, and append a ``resumes`` entry ``{"at", "device", "epochs"}``."""
    try:
        old = read_run_json(run_dir, "manifest.json")
    except HardpairsError:
        old = {}
    manifest = fresh | {k: v for k, v in old.items() if v is not None}
    manifest.setdefault("wall_time_s", None)
    resumes = old.get("resumes") if isinstance(old.get("resumes"), list) else []
    entry = {"at": time.time(), "device": fresh.get("device"), "epochs": epochs}
    write_json(Path(run_dir) / "manifest.json", manifest | {"resumes": [*(resumes or []), entry]})

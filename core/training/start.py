"""Start of a training run: check the job, put data and model on the device, load the checkpoint to resume.

``start_training`` returns a :class:`RunState` that ``core.training.loop.train`` carries through
its epochs. Under torchrun rank 0 reads and checks ``last.pt`` and shares it with every rank.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.sources import ImageDataset
from core.errors import HardpairsError
from core.io import run_log
from core.models.checkpoints import FORMAT, load_checkpoint_file
from core.models.models import SimCLRModel
from core.training.batches import Batches, make_batches
from core.training.config import TrainConfig
from core.training.distributed import DistEnv, broadcast_object, local_batch, setup_distributed
from core.training.lossmodes import LABEL_MODES
from core.training.moco import MoCoState, bn_groups, queue_length
from core.training.presets import moco_note, preset_note
from core.training.step import StepContext, augment_config, prepare_model

#: Config fields that may differ between an interrupted run and its resumption.
_RESUMABLE = {"epochs", "device", "created", "checkpoint_every", "log_every", "compile"}


def _check_resume(cfg: TrainConfig, saved: dict[str, Any]) -> None:
    # a checkpoint written before a field existed was trained with that field's default
    # (and, before --mix-seed, with the training seed as the mixing seed)
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
    saved = {**defaults, "mix_seed": saved.get("seed", 0), **saved}
    diff = sorted(
        k for k in set(saved) | set(cfg.to_dict()) if k not in _RESUMABLE and saved.get(k) != cfg.to_dict().get(k)
    )
    if diff:
        raise HardpairsError(
            f"cannot resume: the checkpoint was trained with different settings ({', '.join(diff)}); "
            "resume with the run's own config.json or start a new run folder"
        )


def _load_resume(path: Path, cfg: TrainConfig, env: DistEnv) -> dict[str, Any] | None:
    """Rank 0 reads and checks ``last.pt`` and shares it (or its error) with every rank."""
    payload: tuple[str, object] = ("none", None)
    if env.is_main and path.exists():
        try:
            ckpt = load_checkpoint_file(path)
            if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
                raise HardpairsError(f"{path} is not a Hardpairs training checkpoint; start a new run")
            _check_resume(cfg, ckpt["config"])
            payload = ("ok", ckpt)
        except HardpairsError as err:
            payload = ("error", str(err))
    kind, value = broadcast_object(payload, env)
    if kind == "error":
        raise HardpairsError(str(value))
    return value if kind == "ok" and isinstance(value, dict) else None


@dataclass
class RunState:
    """The state one training run carries from epoch to epoch (built by :func:`start_training`)."""

    cfg: TrainConfig
    run_dir: Path
    env: DistEnv
    device: torch.device
    ctx: StepContext
    model: SimCLRModel
    batches: Batches  # the kept images: device-resident or streamed from the store (core.training.batches)
    batch: int
    steps: int
    total_steps: int
    warmup_steps: int
    labelled: bool
    start_epoch: int
    ckpt_path: Path
    t_start: float = 0.0


def _plan(cfg: TrainConfig, data: ImageDataset, keep: np.ndarray | None, env: DistEnv) -> tuple[np.ndarray, int, bool]:
    """``(kept indices (n,) int64, batch, labelled)``, after checking the job can be trained."""
    idx_all = np.arange(len(data.x_train)) if keep is None else np.asarray(keep, dtype=np.int64)
    n = len(idx_all)
    if n < 2:
        raise HardpairsError(
            f"only {n} training samples left; a contrastive batch needs at least 2 (lower the pruning ratio)"
        )
    batch = min(cfg.batch_size, n)
    local_batch(batch, env.world_size)
    labelled = bool((data.y_train >= 0).all())
    if cfg.loss_mode in LABEL_MODES and not labelled:
        raise HardpairsError(
            f"--loss-mode {cfg.loss_mode} needs labels, but {data.name} has unlabelled samples; use a label-free mode"
        )
    return idx_all, batch, labelled


def _moco_state(
    cfg: TrainConfig,
    model: SimCLRModel,
    env: DistEnv,
    batch: int,
    n: int,
    ckpt: dict[str, Any] | None,
    log: Callable[[str], None],
) -> MoCoState | None:
    """``--method moco``: the key encoder and queue (``core.training.moco``), restored from ``ckpt`` if it has them."""
    if cfg.method != "moco":
        return None
    if env.enabled:
        raise HardpairsError(
            "--method moco runs in one process (its shuffled BatchNorm is not shared across ranks); "
            "start it without torchrun"
        )
    moco = MoCoState(model, queue_length(cfg.queue_size, batch, n), cfg.moco_momentum, cfg.seed)
    log(moco_note(cfg.to_dict(), moco.queue_size, bn_groups(batch)) or "")
    if ckpt is not None and "moco" in ckpt:
        moco.load_state_dict(ckpt["moco"])
    elif ckpt is not None:
        log("this checkpoint has no MoCo state (written before it was saved): key encoder and queue restart")
    return moco


def start_training(
    cfg: TrainConfig, data: ImageDataset, run_dir: Path, keep: np.ndarray | None, resume: bool
) -> RunState:
    """Join the process group, check the job, put the data and model on the device, load ``last.pt`` on resume."""
    env, device = setup_distributed(cfg.device)
    if env.is_main:  # the trainer's own folder (its log no longer creates it: core.io.run_log)
        run_dir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        if env.is_main:
            run_log(run_dir, message)

    torch.manual_seed(cfg.seed)
    idx_all, batch, labelled = _plan(cfg, data, keep, env)
    steps = len(idx_all) // batch
    total_steps = steps * cfg.epochs
    y = torch.from_numpy(np.asarray(data.y_train[idx_all], dtype=np.int64)).to(device)
    mean = torch.as_tensor(data.mean, dtype=torch.float32, device=device)
    std = torch.as_tensor(data.std, dtype=torch.float32, device=device)
    model, forward, opt = prepare_model(cfg, data.x_train.shape[1], device, env, log)
    batches = make_batches(data.x_train, idx_all, y, device, batch, model)  # after the model: its size counts
    start_epoch = 0
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    ckpt = _load_resume(ckpt_path, cfg, env) if resume else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start_epoch = int(ckpt["epoch"])
    moco = _moco_state(cfg, model, env, batch, len(idx_all), ckpt, log)
    ctx = StepContext(cfg, forward, opt, augment_config(cfg), mean, std, device, env, moco, model)
    log(preset_note(cfg.preset, cfg.dataset, cfg.preset_from))
    return RunState(
        cfg, run_dir, env, device, ctx, model, batches, batch, steps, total_steps,
        min(cfg.warmup_epochs * steps, total_steps // 2), labelled, start_epoch, ckpt_path,
    )  # fmt: skip

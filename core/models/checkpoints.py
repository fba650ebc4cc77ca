"""Checkpoints: atomic save, safe load (``weights_only=True``) and import of foreign layouts.

Hardpairs' own checkpoint is a plain dict (tensors, numbers, strings only, so it loads with
``weights_only=True``)::

    {"format": "hardpairs", "version": 1, "config": dict, "epoch": int,
     "model": state_dict, "optimizer": state_dict, "metrics": dict}

Foreign checkpoints accepted by :func:`load_backbone_state`: a plain torchvision/timm ResNet-18 or
ResNet-50 state dict (``conv1.weight``, ``layer1...``), lightly's Sequential ResNet (``0.weight``,
``4.0.conv1.weight``), a timm ViT (``cls_token``, ``blocks.N...``), or one nested under ``state_dict`` /
``model`` / ``network`` (Lightning's wrapper) with prefixes such as ``module.``, ``backbone.``,
``encoder.``, ``model.`` (DDP, solo-learn, lightly, Lightning, common SimCLR repos); heads, projectors
and momentum copies are dropped. The architecture is detected from the keys and the stem kernel
(:mod:`core.models.layouts`). A checkpoint that also pickles Python objects (OmegaConf / argparse
hyper-parameters, a whole ``torch.save(model)``) is read with inert stand-ins for them
(:mod:`core.models.standins`); nothing in it runs.
"""

from __future__ import annotations

import io
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from core.errors import HardpairsError
from core.io import atomic_write_bytes
from core.models.layouts import detect_layout_arch, remap_sequential_resnet
from core.models.standins import load_with_stand_ins, protocol2_source, stand_in_names

FORMAT = "hardpairs"
_PREFIXES = ("module.", "backbone.", "encoder.", "model.", "net.", "online_network.", "f.", "_orig_mod.")
_NESTED = ("state_dict", "model", "network", "backbone", "encoder", "model_state_dict", "teacher")
#: keys that are not part of the backbone: classifier heads, projectors, predictors, momentum copies.
_DROP = (
    "fc.",
    "projector.",
    "projection_head",
    "prediction_head",
    "predictor.",
    "head.",
    "classifier.",
    "linear.",
    "momentum",
    "backbone_momentum",
    "prototypes",
    "queue",
)


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (must hold only tensors, numbers, strings, lists, dicts)."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint_file(path: str | os.PathLike[str], stand_ins: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` with clear errors for missing, corrupt or unsafe files.

    ``stand_ins``: a checkpoint that pickles Python objects (Lightning / solo-learn hyper-parameters,
    a whole ``torch.save(model)``) is read with inert stand-ins for them instead of being refused
    (:mod:`core.models.standins`: still the weights-only unpickler, nothing from the file runs)."""
    path = Path(path)
    check_regular_file(path)
    try:
        try:
            with protocol2_source(path) as source:
                return torch.load(source, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            if not stand_ins:
                raise
            return load_with_stand_ins(path)
    except pickle.UnpicklingError as err:
        raise HardpairsError(
            f"{path} is not a safe weights-only checkpoint: it contains pickled Python objects that "
            f"Hardpairs, reading with weights_only=True, refuses to execute ({_reason(err)}). Re-save only the "
            "state dict (torch.save(model.state_dict(), path)) from a trusted environment."
        ) from err
    except Exception as err:  # zip/EOF/format errors all mean "not a torch checkpoint"
        raise HardpairsError(
            f"{path} could not be read as a PyTorch checkpoint ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200] if str(err) else ''}). Check that the file is complete "
            "and was written by torch.save."
        ) from err


_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


def check_regular_file(path: Path) -> None:
    """Raise unless ``path`` is a regular file (symbolic links followed), judged by ``os.stat`` alone so
    that a FIFO or a device is never opened (opening a FIFO blocks until a writer comes)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise HardpairsError(f"checkpoint {path} does not exist; check the path") from None
    except OSError as err:
        raise HardpairsError(f"checkpoint {path} cannot be looked at ({err.strerror}); check the path") from None
    if stat.S_ISDIR(mode):
        raise HardpairsError(
            f"checkpoint {path} is a folder; pass the checkpoint file itself (e.g. {path}/checkpoints/last.pt)"
        )
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
        raise HardpairsError(
            f"checkpoint {path} is {kind}, not a regular file; pass the .pt/.pth/.ckpt file written by torch.save"
        )


def _reason(err: Exception) -> str:
    """The line of torch's weights-only error that names the refused global or opcode (else its first)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    return next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), lines[0])[:200]


def _find_state_dict(obj: Any) -> dict[str, Tensor]:
    """Descend into common wrapper keys until a dict of tensors is found."""
    for _ in range(3):
        if isinstance(obj, dict) and obj and all(isinstance(v, Tensor) for v in obj.values()):
            return obj
        if isinstance(obj, dict):
            nested = next((obj[k] for k in _NESTED if isinstance(obj.get(k), dict)), None)
            if nested is not None:
                obj = nested
                continue
        break
    objects = stand_in_names(obj)
    raise HardpairsError(
        "the checkpoint holds no state dict of tensors (looked at the top level and under "
        f"{', '.join(_NESTED)})"
        + (
            f"; it pickles Python objects instead ({', '.join(objects[:5])}), which were read as inert "
            "stand-ins and not run (weights_only reading)"
            if objects
            else ""
        )
        + "; save one with torch.save(model.state_dict(), path)"
    )


def _strip_prefixes(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Remove wrapper prefixes (repeatedly) and keep backbone keys only (drop fc/projector/heads)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        k = key
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if k.startswith(p):
                    k, changed = k[len(p) :], True
        if k.startswith(_DROP):
            continue
        out[k] = value
    return remap_sequential_resnet(out)


def detect_arch(state: dict[str, Tensor]) -> tuple[str, int]:
    """(arch, in_channels) of a backbone state dict with prefixes already stripped."""
    return detect_layout_arch(state)


def load_backbone_state(path: str | os.PathLike[str]) -> tuple[str, int, dict[str, Tensor], dict[str, Any] | None]:
    """Load any supported checkpoint file.

    Returns:
        (arch, in_channels, backbone state dict without prefixes, Hardpairs config dict or None).
    """
    obj = load_checkpoint_file(path, stand_ins=True)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        arch, in_ch, state, cfg = _own_checkpoint(path, obj)
    else:
        state = _strip_prefixes(_find_state_dict(obj))
        (arch, in_ch), cfg = detect_arch(state), None
    check_dtypes(state, str(path))
    check_finite(state, str(path))
    return arch, in_ch, state, cfg


#: config keys a checkpoint's config must hold as text (read before ``TrainConfig`` validates the rest)
_TEXT_KEYS = ("arch", "dataset", "preset", "preset_from", "loss_mode", "method")


def _own_checkpoint(
    path: str | os.PathLike[str], obj: dict[str, Any]
) -> tuple[str, int, dict[str, Tensor], dict[str, Any]]:
    """(arch, in_channels, backbone state, config) of a Hardpairs checkpoint, with clear errors when incomplete."""
    cfg, model = obj.get("config"), obj.get("model")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("arch"), str):
        raise HardpairsError(
            f"Hardpairs checkpoint {path} has no config with an 'arch' entry; it is incomplete -- "
            "re-save it from its run (checkpoints/last.pt) or import the bare state dict"
        )
    bad = next(((k, cfg[k]) for k in _TEXT_KEYS if k in cfg and not isinstance(cfg[k], str | None)), None)
    if bad is not None:  # read, not typed: validated like a flag before anything uses it
        raise HardpairsError(
            f"Hardpairs checkpoint {path}: its config has {bad[0]} {bad[1]!r}, which is not text; the file is "
            "damaged or edited -- use the run's own checkpoints/last.pt, or import the bare state dict"
        )
    state = {k[len("backbone.") :]: v for k, v in (model or {}).items() if k.startswith("backbone.")}
    if not isinstance(model, dict) or not state or not all(isinstance(v, Tensor) for v in state.values()):
        raise HardpairsError(
            f"Hardpairs checkpoint {path} holds no backbone weights (its 'model' has no backbone.* tensors); "
            "it is incomplete -- use the run's checkpoints/last.pt written by training"
        )
    kernels = [v for v in state.values() if v.ndim == 4]  # the stem / first conv / ViT patch embedding
    first = kernels[0] if kernels else state[next(iter(state))]
    if first.ndim < 2:
        raise HardpairsError(f"Hardpairs checkpoint {path}: the first backbone tensor has shape {tuple(first.shape)}")
    return cfg["arch"], int(first.shape[1]), state, cfg


#: integer buffers a backbone legitimately holds (BatchNorm's step counter)
_INTEGER_BUFFERS = ("num_batches_tracked",)


def check_dtypes(state: dict[str, Tensor], source: str) -> None:
    """Raise when a tensor of ``state`` would lose information loaded into a float backbone: a complex
    tensor (its imaginary part would be dropped) or an integer/bool/quantized one (cast to float without
    a word); integer buffers of :data:`_INTEGER_BUFFERS` are kept."""
    for key, value in state.items():
        if value.is_floating_point() or (key.rsplit(".", 1)[-1] in _INTEGER_BUFFERS and not value.is_complex()):
            continue
        dtype = str(value.dtype).removeprefix("torch.")
        what = (
            "complex: loading it would drop the imaginary part"
            if value.is_complex()
            else "not floating point: loading it would cast it to float without a word (a quantized or damaged export?)"
        )
        raise HardpairsError(
            f"checkpoint {source}: tensor {key} is {dtype}, which is {what}; re-save the real float weights "
            "(torch.save(model.float().state_dict(), path)) and import that file"
        )


def check_finite(state: dict[str, Tensor], source: str) -> None:
    """Raise when any floating tensor of ``state`` holds NaN or inf (a diverged or damaged checkpoint)."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise HardpairsError(
            f"checkpoint {source} has NaN/inf values in {len(bad)} tensor(s) (e.g. {', '.join(bad[:3])}); "
            "the weights are broken (a diverged training?) -- use an earlier or another checkpoint"
        )


def load_into_backbone(backbone: torch.nn.Module, state: dict[str, Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with a readable error naming missing/unexpected/mismatched keys."""
    own = backbone.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = [k for k in own if k in state and own[k].shape != state[k].shape]
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})")
        if shape:
            k = shape[0]
            ck, mk = tuple(state[k].shape), tuple(own[k].shape)
            parts.append(f"{len(shape)} shape mismatches (e.g. {k}: checkpoint {ck} vs model {mk})")
        raise HardpairsError(
            f"checkpoint {source} does not match the architecture: {'; '.join(parts)}. "
            "Pass the matching --arch, or a checkpoint of a supported model."
        )
    backbone.load_state_dict(state, strict=True)

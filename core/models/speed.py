"""The speed settings of a device: which of the CUDA-only fast paths a model runs with.

One frozen :class:`SpeedSettings` decides every branch that used to be a scattered
``device.type == "cuda"`` test: bf16 autocast (training step and feature extraction),
channels_last (model and views), fused SGD/AdamW, pinned host-to-device copies and
``torch.compile``. :func:`speed_settings` gives the device defaults -- all on for CUDA, all off
(float32, eager) on the CPU; ``compile`` only with ``--compile`` -- unless an override names the
branches: the ``force`` argument (tests) or the environment variable ``HARDPAIRS_SPEED``, a comma
list of ``auto`` (the device defaults), ``off`` (none), ``bf16``, ``channels_last``, ``fused``,
``pin``, ``compile``, ``all``. Every branch then runs on the CPU too (autocast bf16,
channels_last, fused optimisers and inductor all exist there), so the first GPU run is not the
first time a branch executes. ``pin`` needs a CUDA driver to pin; without one
:func:`to_device` skips only the pin and keeps the non-blocking copy.

Lives in ``core.models`` (not ``core.training``) because feature extraction
(``core.models.features``) reads it too and may not import the trainer's room.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from core.errors import HardpairsError

#: the environment variable that overrides the device defaults (same syntax as ``force``)
SPEED_ENV = "HARDPAIRS_SPEED"
#: override token -> SpeedSettings field
BRANCHES = {
    "bf16": "autocast_bf16",
    "channels_last": "channels_last",
    "fused": "fused_optimizer",
    "pin": "pin_memory",
    "compile": "compile",
}
_SPECIAL = ("auto", "off", "none", "all")


@dataclass(frozen=True)
class SpeedSettings:
    """Which fast paths are on. ``compile`` wraps the model's forward in ``torch.compile``."""

    autocast_bf16: bool = False
    channels_last: bool = False
    fused_optimizer: bool = False
    pin_memory: bool = False
    compile: bool = False

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[object]:
        """bf16 autocast on ``device`` when on, else a no-op context."""
        if self.autocast_bf16:
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @property
    def names(self) -> list[str]:
        """The override tokens of the branches that are on (``HARDPAIRS_SPEED`` syntax)."""
        return [tok for tok, field in BRANCHES.items() if getattr(self, field)]

    def describe(self) -> str:
        """One line for the run log, e.g. ``"bf16 autocast, channels_last, fused optimizer"``."""
        words = {
            "bf16": "bf16 autocast",
            "fused": "fused optimizer",
            "pin": "pinned copies",
            "compile": "torch.compile",
        }
        on = [words.get(tok, tok) for tok in self.names]
        return ", ".join(on) if on else f"float32, eager (none of the CUDA fast paths; {SPEED_ENV} turns them on)"


def parse_speed(text: str, defaults: SpeedSettings) -> SpeedSettings:
    """``"bf16,channels_last"`` -> settings with exactly those branches on (``auto`` adds ``defaults``).

    Raises:
        HardpairsError: an unknown token (the message lists the valid ones).
    """
    on: set[str] = set()
    for raw in text.split(","):
        tok = raw.strip().lower()
        if tok in ("", "auto"):
            on |= set(defaults.names)
        elif tok in ("off", "none"):
            continue
        elif tok == "all":
            on |= set(BRANCHES)
        elif tok in BRANCHES:
            on.add(tok)
        else:
            valid = ", ".join((*_SPECIAL, *BRANCHES))
            raise HardpairsError(
                f"{SPEED_ENV}: unknown speed branch {tok!r}; use a comma list of {valid} (e.g. {SPEED_ENV}=bf16,fused)"
            )
    return SpeedSettings(**{BRANCHES[tok]: True for tok in on})


def speed_settings(
    device: torch.device, compile: bool = False, force: str | Iterable[str] | None = None
) -> SpeedSettings:
    """The settings a model on ``device`` runs with.

    Args:
        device: CUDA turns bf16/channels_last/fused/pin on by default; any other device leaves
            them off (float32, eager: the CPU's behaviour before these settings existed).
        compile: the run's ``--compile``; compilation is on when this is set or the override names it.
        force: an override (a comma string or tokens); ``None`` reads ``HARDPAIRS_SPEED``
            (unset or empty = ``auto``).
    """
    cuda = device.type == "cuda"
    defaults = SpeedSettings(cuda, cuda, cuda, cuda, False)
    text = os.environ.get(SPEED_ENV, "") if force is None else force
    if not isinstance(text, str):
        text = ",".join(text)
    chosen = parse_speed(text, defaults)
    return replace(chosen, compile=True) if compile else chosen


def optimizer_kwargs(settings: SpeedSettings) -> dict[str, bool]:
    """Keyword arguments of ``torch.optim.SGD``/``AdamW`` for these settings (fused kernels or not)."""
    return {"fused": True} if settings.fused_optimizer else {}


def to_device(x: Tensor, device: torch.device, settings: SpeedSettings) -> Tensor:
    """A host tensor on ``device``: pinned and copied without blocking when ``pin_memory`` is on.

    Pinning needs a CUDA driver; without one (the CPU twin) the pin is skipped and the copy is
    still issued with ``non_blocking=True``, so the code path is the CUDA one up to the pin.
    """
    if settings.pin_memory and x.device.type == "cpu" and torch.cuda.is_available():
        x = x.pin_memory()
    return x.to(device, non_blocking=settings.pin_memory)

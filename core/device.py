"""The one device resolver: a ``--device`` value -> ``torch.device`` (bottom of ``core``; training and
analysis both use it)."""

from __future__ import annotations

import re

import torch

from core.errors import HardpairsError

_DEVICE_RE = re.compile(r"(auto|cpu|cuda(:[0-9]+)?)")


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``; ``cuda`` / ``cuda:N`` when that GPU is visible.

    Raises:
        HardpairsError: any other name, or a CUDA device that torch cannot see (named in the message,
            with the fix ``--device cpu`` or ``auto``).
    """
    if not isinstance(name, str) or _DEVICE_RE.fullmatch(name) is None:
        raise HardpairsError(f"--device must be auto, cpu, cuda or cuda:N (got {name!r})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise HardpairsError(f"--device {name}: no CUDA GPU is visible to torch; use --device cpu or auto")
    index = int(name.split(":")[1]) if ":" in name else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise HardpairsError(
            f"--device {name}: torch sees {count} CUDA GPU(s) (cuda:0..cuda:{count - 1}); "
            "pick one of them, or use --device cpu or auto"
        )
    return torch.device(name)

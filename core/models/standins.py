"""The tensors of a checkpoint that also pickles Python objects, read without running any of them.

Lightning / solo-learn checkpoints keep their hyper-parameters as OmegaConf or ``argparse`` objects,
DINO's keep an ``argparse.Namespace``, and ``torch.save(model)`` pickles the module classes themselves.
``torch.load(weights_only=True)`` refuses all of these. Here each class or function the pickle names
outside torch's allow-list is mapped to an inert stand-in (:class:`StandIn`) and the file is read by
torch's own weights-only unpickler: the unpickler stays the restricted one and no code from the file
runs (a stand-in called with arguments, or given a state, only stores them). Tensors load as usual; a
pickled ``nn.Module``'s parameters and buffers are recovered from its stand-in's state
(:func:`replace_modules`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor


class StandIn:
    """Inert stand-in for a pickled class or function: keeps the arguments and state it is given."""

    qualname: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<not loaded: {self.qualname}>"


def pickled_objects(path: str | os.PathLike[str]) -> list[str]:
    """Sorted ``module.name`` of every class or function in the checkpoint outside torch's weights-only
    allow-list (what :func:`load_with_stand_ins` replaces); [] for a plain state dict."""
    return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(os.fspath(path)))


def load_with_stand_ins(path: str | os.PathLike[str]) -> Any:
    """``torch.load(path, weights_only=True)`` with every name of :func:`pickled_objects` read as a
    :class:`StandIn` subclass, then :func:`replace_modules` on the result."""
    stand_ins: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        (type(f"StandIn[{name}]", (StandIn,), {"qualname": name}), name) for name in pickled_objects(path)
    ]
    with torch.serialization.safe_globals(stand_ins):
        obj = torch.load(path, map_location="cpu", weights_only=True)
    return replace_modules(obj)


def _is_module(obj: Any) -> bool:
    return isinstance(obj, StandIn) and isinstance(obj.state, dict) and "_parameters" in obj.state


def module_state(obj: StandIn, prefix: str = "") -> dict[str, Tensor]:
    """``state_dict()`` of a pickled ``nn.Module`` stand-in: its parameters and persistent buffers,
    then its submodules' under ``name.``, as ``nn.Module.state_dict`` orders them."""
    state = obj.state
    out: dict[str, Tensor] = {}
    for name, value in (state.get("_parameters") or {}).items():
        if isinstance(value, Tensor):
            out[prefix + name] = value
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for name, value in (state.get("_buffers") or {}).items():
        if isinstance(value, Tensor) and name not in skip:
            out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if _is_module(child):
            out.update(module_state(child, f"{prefix}{name}."))
    return out


def replace_modules(obj: Any) -> Any:
    """``obj`` with each pickled-module stand-in replaced by its state dict (inside dicts and lists too)."""
    if _is_module(obj):
        return module_state(obj)
    if isinstance(obj, dict):
        return {k: replace_modules(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(replace_modules(v) for v in obj)
    return obj


def stand_in_names(obj: Any, depth: int = 4) -> list[str]:
    """Sorted distinct ``module.name`` of the stand-ins inside ``obj`` (dicts and lists, ``depth`` deep)."""
    if isinstance(obj, StandIn):
        return [obj.qualname]
    if depth == 0:
        return []
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list | tuple) else ()
    return sorted({name for v in values for name in stand_in_names(v, depth - 1)})

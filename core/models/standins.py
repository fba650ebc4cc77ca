"""The tensors of a checkpoint that also pickles Python objects, read without running any of them.

Lightning / solo-learn checkpoints keep their hyper-parameters as OmegaConf or ``argparse`` objects,
DINO's keep an ``argparse.Namespace``, and ``torch.save(model)`` pickles the module classes themselves.
``torch.load(weights_only=True)`` refuses all of these. Here each class or function the pickle names
outside torch's allow-list is mapped to an inert stand-in (:class:`StandIn`) and the file is read by
torch's own weights-only unpickler: the unpickler stays the restricted one and no code from the file
runs (a stand-in called with arguments, or given a state, only stores them). Tensors load as usual; a
pickled ``nn.Module``'s parameters and buffers are recovered from its stand-in's state
(:func:`replace_modules`).

A checkpoint saved with ``pickle_protocol=3`` to ``5`` uses opcodes (FRAME, MEMOIZE, SHORT_BINUNICODE,
STACK_GLOBAL) that torch's weights-only unpickler does not know; :func:`protocol2_source` rewrites them
into their protocol-2 equivalents (parsed by :mod:`pickletools`, never run) so that the same restricted
unpickler, with the same allow-list, reads it.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, ClassVar

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
    with protocol2_source(path) as source:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(source))


def load_with_stand_ins(path: str | os.PathLike[str]) -> Any:
    """``torch.load(path, weights_only=True)`` with every name of :func:`pickled_objects` read as a
    :class:`StandIn` subclass, then :func:`replace_modules` on the result."""
    stand_ins: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        (type(f"StandIn[{name}]", (StandIn,), {"qualname": name}), name) for name in pickled_objects(path)
    ]
    with torch.serialization.safe_globals(stand_ins), protocol2_source(path) as source:
        obj = torch.load(source, map_location="cpu", weights_only=True)
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


#: opcodes of protocol 3-5 that push one string
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"})


def _binunicode(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return b"X" + struct.pack("<I", len(data)) + data


def protocol2_pickle(data: bytes) -> bytes:
    """``data`` (a pickle of protocol 3 to 5) with the opcodes torch's weights-only unpickler lacks written
    as their protocol-2 equivalents: FRAME dropped, MEMOIZE as LONG_BINPUT, every string as BINUNICODE (a
    memoized string is pushed again where it is read back), STACK_GLOBAL of two strings as GLOBAL. Parsed
    with :func:`pickletools.genops`, never run; every other opcode is copied unchanged, so the weights-only
    unpickler still refuses what it refused before.

    Raises:
        pickle.UnpicklingError: a STACK_GLOBAL whose operands are not two strings just pushed, or a memo
            entry read before it is written.
    """
    ops = list(pickletools.genops(data))
    out: list[bytes | str] = []  # a str is a string push, written as BINUNICODE at the end
    memo: dict[int, str | int] = {}  # the file's memo index -> its string, or the index in the output
    kept = 0  # entries in the output's memo (objects; strings are pushed again instead)
    for i, (op, arg, pos) in enumerate(ops):
        name = op.name
        if name in _STRINGS:
            out.append(str(arg))
        elif name == "PROTO":
            out.append(b"\x80\x02")
        elif name in ("MEMOIZE", "BINPUT", "LONG_BINPUT"):
            index = len(memo) if name == "MEMOIZE" else int(str(arg))
            if out and isinstance(out[-1], str):
                memo[index] = out[-1]
            else:
                memo[index], kept = kept, kept + 1
                out.append(b"r" + struct.pack("<I", memo[index]))
        elif name in ("BINGET", "LONG_BINGET"):
            value = memo.get(int(str(arg)))
            if value is None:
                raise pickle.UnpicklingError(f"memo entry {arg} is read before it is written")
            out.append(value if isinstance(value, str) else b"j" + struct.pack("<I", value))
        elif name == "STACK_GLOBAL":
            module, attr = out[-2:] if len(out) >= 2 else (b"", b"")
            if not isinstance(module, str) or not isinstance(attr, str) or "\n" in module + attr:
                raise pickle.UnpicklingError("STACK_GLOBAL without a module and a name pushed as strings")
            out[-2:] = [f"c{module}\n{attr}\n".encode("utf-8", "surrogatepass")]
        elif name != "FRAME":
            out.append(data[pos : ops[i + 1][2] if i + 1 < len(ops) else len(data)])
    return b"".join(_binunicode(v) if isinstance(v, str) else v for v in out)


@contextmanager
def protocol2_source(path: str | os.PathLike[str]) -> Iterator[str | IO[bytes]]:
    """``path`` itself, or, for a torch zip checkpoint whose ``data.pkl`` uses pickle protocol 3 to 5 (and
    whose members are stored, as ``torch.save`` writes them), an anonymous temporary copy with that pickle
    rewritten by :func:`protocol2_pickle`; the copy is closed (and gone) on exit."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        yield os.fspath(path)
        return
    with archive:
        infos = archive.infolist()
        top = infos[0].filename.split("/")[0] if infos else ""
        pkl = next((i for i in infos if i.filename == f"{top}/data.pkl"), None)
        stored = all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        head = b""
        if pkl is not None and stored:
            with archive.open(pkl) as fh:
                head = fh.read(2)
        if len(head) < 2 or head[0] != 0x80 or head[1] <= 2:
            yield os.fspath(path)
            return
        with tempfile.TemporaryFile() as copy:
            with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED, allowZip64=True) as dst:
                for info in infos:
                    if info is pkl:
                        dst.writestr(info.filename, protocol2_pickle(archive.read(info)))
                        continue
                    with archive.open(info) as src, dst.open(info.filename, "w", force_zip64=True) as out:
                        shutil.copyfileobj(src, out, 1 << 20)
            copy.seek(0)
            yield copy

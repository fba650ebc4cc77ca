"""The engine's keyed caches below the run layer: the image stores' folders, their size limit and readers.

Where each cache lives and why is written in ``docs/caches.md`` (run-level analyses use the one cache rule of
``core.rundir.cache``; the image stores themselves are built and opened by ``core.data.imagestore``).

* :func:`list_stores` -- every store folder under a root (``<key>`` complete, ``<key>.building`` partial),
  its bytes on disk and when it was last opened;
* :func:`hold` -- a reader's shared ``fcntl`` lock on ``<store>/last_used`` (kept until the process exits), so
  :func:`evict_stores` never removes a store a live process on this machine has open;
* :func:`evict_stores` -- least-recently-used complete stores removed until the root fits its size limit
  (``$HARDPAIRS_IMAGE_STORE_GB``, default :data:`DEFAULT_LIMIT_GB`).
* :func:`array_sha1` -- the sha1 of an array (identifies e.g. the checkpoint that produced features).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HardpairsError

#: Environment variable: size limit of all image stores under one root, in GB (10**9 bytes).
LIMIT_ENV = "HARDPAIRS_IMAGE_STORE_GB"
DEFAULT_LIMIT_GB = 200.0
#: Suffix of a store folder still being built (never read as a store).
BUILDING = ".building"
_HELD: dict[str, list[int]] = {}  # store folder -> [fd holding its shared reader lock, live owners]


def limit_bytes() -> int:
    """The size limit in bytes: ``$HARDPAIRS_IMAGE_STORE_GB`` (a positive number) or :data:`DEFAULT_LIMIT_GB`."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    try:
        gb = float(raw) if raw else DEFAULT_LIMIT_GB
    except ValueError:
        gb = -1.0
    if gb <= 0:
        raise HardpairsError(f"{LIMIT_ENV}={raw!r} is not a positive number of GB; e.g. {LIMIT_ENV}=200")
    return int(gb * 1e9)


def folder_bytes(path: Path) -> int:
    """Bytes on disk of a folder's files (allocated blocks: a sparse image file counts what is written)."""
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total


def list_stores(root: Path) -> list[dict[str, Any]]:
    """Every store under ``root``: ``{"key", "path", "complete", "bytes", "last_used"}`` (mtime of its
    ``last_used`` file, else of the folder), sorted by key."""
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        path = Path(entry.path)
        complete = not entry.name.endswith(BUILDING) and _is_store(path)
        stamp = path / "last_used"
        used = (stamp if stamp.exists() else path).stat().st_mtime
        key = entry.name.removesuffix(BUILDING)
        out.append(
            {"key": key, "path": str(path), "complete": complete, "bytes": folder_bytes(path), "last_used": used}
        )
    return out


def _is_store(path: Path) -> bool:
    """Whether ``path`` is a complete store this code wrote: its ``meta.json`` names the folder as its key and
    ``images.npy`` is there. Only such folders are ever evicted or replaced, so a ``--cache-dir`` pointed at a
    folder holding other data loses nothing of it."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("key") == path.name and (path / "images.npy").is_file()


def hold(path: Path, owner: object) -> None:
    """Mark the store ``path`` as read by this process while ``owner`` (its memmap) lives: touch ``last_used``
    and keep a shared lock on it (released when the last owner is garbage-collected)."""
    import weakref

    held = _HELD.get(str(path))
    try:
        if held is None:
            fd = os.open(path / "last_used", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_SH)
            held = _HELD[str(path)] = [fd, 0]
        os.utime(held[0])
    except OSError:  # a read-only store (a shared disk): nothing here can evict it either
        return
    held[1] += 1
    weakref.finalize(owner, _release, str(path))


def _release(path: str) -> None:
    held = _HELD.get(path)
    if held is not None:
        held[1] -= 1
        if held[1] <= 0:
            os.close(_HELD.pop(path)[0])


def drop_versions(root: Path, tag: str, keep: str) -> None:
    """Remove the complete stores ``<tag>-*`` other than ``keep`` (older versions of one source) not in use."""
    if root.is_dir():
        for entry in os.scandir(root):
            name = entry.name
            if name.startswith(tag + "-") and name != keep and entry.is_dir() and _is_store(Path(entry.path)):
                remove_store(Path(entry.path))


def remove_store(path: Path) -> bool:
    """Remove a complete store unless a live process holds it (then False); a folder without ``last_used`` goes."""
    stamp = path / "last_used"
    fd = os.open(stamp, os.O_RDWR | os.O_CREAT, 0o644) if path.is_dir() else -1
    try:
        if fd >= 0:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        shutil.rmtree(path, ignore_errors=True)
        return True
    finally:
        if fd >= 0:
            os.close(fd)


def evict_stores(root: Path, keep: str, limit: int | None = None) -> list[str]:
    """Remove least-recently-used complete stores (never ``keep``, never one in use) until ``root`` fits ``limit``.

    Returns:
        The keys removed. Partial builds count towards the total but are never removed here.
    """
    limit = limit_bytes() if limit is None else limit
    stores = list_stores(root)
    total = sum(s["bytes"] for s in stores)
    removed = []
    for store in sorted(stores, key=lambda s: s["last_used"]):
        if total <= limit:
            break
        if store["complete"] and store["key"] != keep and remove_store(Path(store["path"])):
            total -= store["bytes"]
            removed.append(store["key"])
    return removed


def array_sha1(x: np.ndarray) -> str:
    """sha1 of an array's shape, dtype and bytes (identifies e.g. the checkpoint that produced features)."""
    x = np.ascontiguousarray(x)
    h = hashlib.sha1(f"{x.shape}|{x.dtype}|".encode())
    h.update(x.data.cast("B"))
    return h.hexdigest()

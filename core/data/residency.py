"""Which path a dataset's images take: kept in memory, or streamed from the on-disk image store.

THE rule (:func:`place_images`, documented in ``docs/scale.md`` "Which path"): the decoded images
(train + test, uint8, at the training size) stay in memory when they fit in a quarter of the memory
limit (:func:`in_memory_budget`, ``core.data.memory.memory_limit``); else they stream from the image
store (``core.data.imagestore``): read-only ``np.memmap`` views that training, extraction, Mixed-omega
and the thumbnails read row by row. ``$HARDPAIRS_IMAGE_STORE`` overrides it: ``auto`` (the rule),
``always`` (stream even small data: tests and benches) or ``never`` (everything in memory, the
behaviour before the store; the memory check still refuses what cannot fit).

Readers of a streamed array use :func:`row_chunks` (owned chunks of rows, in order) and
:func:`release_pages` (drop the mapped pages already read from this process's resident set: the
page cache keeps them, but peak RSS stays bounded at any N).
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from core.data.decode import resize_images
from core.data.memory import check_memory, gib, memory_limit
from core.data.mixing import MixedImages, check_lambda, mix_images, mix_plan
from core.errors import HardpairsError

#: Environment variable that picks the path: ``auto`` (default), ``always`` or ``never``.
STORE_ENV = "HARDPAIRS_IMAGE_STORE"
STORE_MODES = ("auto", "always", "never")
#: Bytes of rows one chunked pass reads at a time (statistics, fingerprint, features).
CHUNK_BYTES = 64 * 2**20


def store_mode() -> str:
    """``$HARDPAIRS_IMAGE_STORE`` checked: ``auto`` (unset), ``always`` or ``never``."""
    mode = os.environ.get(STORE_ENV, "").strip().lower() or "auto"
    if mode not in STORE_MODES:
        raise HardpairsError(f"{STORE_ENV}={mode!r} is not one of {', '.join(STORE_MODES)}; e.g. {STORE_ENV}=auto")
    return mode


def in_memory_budget() -> int:
    """Bytes of decoded images that may stay in memory: a quarter of the memory limit."""
    return memory_limit()[0] // 4


def is_streamed(x: Any) -> bool:
    """True for images read from the store (a ``np.memmap``, a :class:`MixedImages` view), False in memory."""
    return isinstance(x, (np.memmap, MixedImages)) or not isinstance(x, np.ndarray)


def release_pages(x: Any) -> None:
    """Drop the pages of ``x``'s file mapping from this process's resident set (no-op in memory).

    ``MADV_DONTNEED`` on a read-only shared file mapping only unmaps the pages here; the data stays
    in the file and the page cache, and a later read maps it again.
    """
    base = x.base if isinstance(x, MixedImages) else x
    mapped = getattr(base, "_mmap", None)
    if isinstance(mapped, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapped.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass  # a closed or unusual mapping: keep the pages


def chunk_rows(x: Any, target: int = CHUNK_BYTES) -> int:
    """Rows per chunk so a chunk of ``x`` is about ``target`` bytes (at least 1)."""
    row = int(np.prod(x.shape[1:], dtype=np.int64)) * np.dtype(x.dtype).itemsize
    return max(1, int(target // max(row, 1)))


def row_chunks(x: Any, start: int = 0, stop: int | None = None, rows: int | None = None) -> Iterator[np.ndarray]:
    """Rows ``[start, stop)`` of ``x`` as successive owned in-memory chunks; a streamed ``x`` is never read whole.

    Args:
        x: (N, ...) array-like. rows: rows per chunk (default :func:`chunk_rows`).
    """
    stop = len(x) if stop is None else stop
    step = rows or chunk_rows(x)
    streamed, read = is_streamed(x), 0
    for lo in range(start, stop, step):
        part = x[lo : min(lo + step, stop)]
        if not isinstance(part, np.ndarray) or isinstance(part, np.memmap) or not part.flags.writeable:
            part = np.array(part, copy=True)  # owned: the mapping's pages can go
        yield part
        read += part.nbytes
        if streamed and read >= CHUNK_BYTES:
            release_pages(x)
            read = 0
    if streamed:
        release_pages(x)


def load_rows(x: Any) -> np.ndarray:
    """All of ``x`` as one new in-memory array, copied chunk by chunk (the mapped pages are dropped as it
    goes, so the peak is the array, not the array plus its file pages)."""
    out = np.empty(tuple(x.shape), np.dtype(x.dtype))
    lo = 0
    for part in row_chunks(x):
        out[lo : lo + len(part)] = part
        lo += len(part)
    return out


def hash_arrays(h: Any, arrays: tuple[Any, ...]) -> None:
    """Feed each array's ``(shape, dtype)`` and its C-order bytes into the hash ``h``, chunk by chunk.

    Equal to hashing each whole contiguous array at once (sha1 is a stream), so the in-memory and the
    streamed copy of a dataset get the same fingerprint.
    """
    for arr in arrays:
        h.update(str((tuple(arr.shape), np.dtype(arr.dtype).str)).encode())
        for part in row_chunks(arr):
            h.update(np.ascontiguousarray(part).data)


def _content_key(spec: str, parts: tuple[Any, ...]) -> str:
    h = hashlib.sha1(spec.encode())
    hash_arrays(h, tuple(parts[:4]))
    h.update("\n".join(str(c) for c in parts[4]).encode())
    return h.hexdigest()


def place_images(
    spec: str, parts: tuple[Any, ...], image_size: int | None, cache_dir: str | os.PathLike[str] | None
) -> tuple[Any, Any]:
    """THE rule: ``(x_train, x_test)`` in memory or streamed from the store, at ``image_size``.

    Args:
        spec: the dataset spec (named in messages and in the store's key).
        parts: ``(x_train, y_train, x_test, y_test, classes)`` as the source returned them: in-memory
            arrays (digits, torchvision, npz) or read-only memmaps of the store (folders).
        image_size: the size the images still have to be resized to (None: keep).
        cache_dir: where the store lives (``core.data.imagestore``).
    """
    x_train, x_test = parts[0], parts[2]
    mode = store_mode()
    h, w = (image_size, image_size) if image_size else (int(x_train.shape[2]), int(x_train.shape[3]))
    n, c = len(x_train) + len(x_test), int(x_train.shape[1])
    nbytes = n * c * h * w
    fits = nbytes <= in_memory_budget()
    if is_streamed(x_train):  # the source is a store already
        if mode == "never" or (mode == "auto" and fits):
            check_memory(f"loading {spec} into memory ({n} images at {w}x{h}x{c})", nbytes, f"unset {STORE_ENV}")
            return load_rows(x_train), load_rows(x_test)
        return x_train, x_test
    resize = image_size is not None and (h, w) != tuple(x_train.shape[2:])
    stream = mode == "always" or (mode == "auto" and resize and not fits)
    if stream and h == w:
        from core.data.imagestore import array_store

        x_tr, y_tr, x_te, y_te, classes = parts
        stored = array_store(_content_key(spec, parts), x_tr, y_tr, x_te, y_te, classes, h, cache_dir)
        return stored.x_train, stored.x_test
    if not resize:
        return x_train, x_test
    check_memory(
        f"resizing {spec} to --image-size {h} ({n} images at {w}x{h}x{c}, {gib(nbytes)})",
        nbytes,
        f"pass a smaller --image-size or set {STORE_ENV}=auto",
    )
    return resize_images(x_train, h), resize_images(x_test, h)


def mixed_train(x: Any, y: np.ndarray, mix: float, mix_lambda: float, seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """omega-Mixed train images: :func:`core.data.mixing.mix_images` in memory, a lazy
    :class:`core.data.mixing.MixedImages` view for streamed images (the same pixels, no second copy).

    Returns:
        ``(x_mixed, mixed (N,) bool, mix_partner (N,) int64)``.
    """
    if not is_streamed(x):
        return mix_images(x, y, mix, mix_lambda, seed)
    check_lambda(mix_lambda)
    mixed, partner = mix_plan(y, mix, seed)
    return (MixedImages(x, partner, mix_lambda) if mixed.any() else x), mixed, partner

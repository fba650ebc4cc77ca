"""Row-sharded arrays on disk: one ``.npy`` per rank plus an ``index.json``, read back as one array.

Written by sharded feature extraction (``torchrun ... -m core extract``, :mod:`core.runs.extraction`)
into ``<run>/features/``::

    index.json            {"format": "hardpairs-shards", "version": 1, "world_size": W, "dim": D,
                           "dtype": "float32", "splits": {"train": {"n": N, "shards": [
                               {"file": "train_rank0.npy", "start": 0, "stop": n0}, ...]}, "test": ...}}
    train_rank{r}.npy     (rows of rank r, D) float32, rows [start, stop) of the split, in input order
    test_rank{r}.npy
    y_train.npy, y_test.npy  (N,) / (M,) int64 labels (-1 = unknown)

Every file is written atomically (``core.io.save_npy`` / ``write_json``); the index is written last,
by rank 0, after every rank finished, so a folder with an index is complete. :func:`open_sharded`
memory-maps every shard (nothing is read until rows are asked for) and returns them as one
:class:`ShardedArray` of shape (N, D). It lives in ``core.data`` so both ``core.analysis`` and
``core.runs`` may read shards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HardpairsError
from core.io import read_json

INDEX = "index.json"
FORMAT = "hardpairs-shards"


def shard_rows(n: int, world_size: int, rank: int) -> slice:
    """Contiguous rows of rank ``rank`` among ``world_size``: sizes differ by at most one, in rank order."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


class ShardedArray:
    """Read-only (N, D) view over row shards (each a memory-mapped (n_r, D) array), in shard order.

    Supports ``len``, ``shape``, ``dtype``, ``x[i]``, ``x[a:b]``, ``x[int_array]`` (rows, returned as
    ndarray), :meth:`chunks` (bounded-memory iteration) and ``np.asarray(x)`` (materialises all rows).
    """

    def __init__(self, parts: list[np.ndarray]):
        if not parts:
            raise HardpairsError("a sharded array needs at least one shard")
        dims = {p.shape[1:] for p in parts}
        if len(dims) != 1:
            raise HardpairsError(f"shards have different row shapes {sorted(dims)}; re-extract the features")
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.dtype = parts[0].dtype
        self.shape = (int(self.offsets[-1]), *parts[0].shape[1:])

    def __len__(self) -> int:
        return int(self.shape[0])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.concatenate([np.asarray(p) for p in self.parts])
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"row {key} out of range for {len(self)} rows")
            s = int(np.searchsorted(self.offsets, i, side="right")) - 1
            return np.asarray(self.parts[s][i - self.offsets[s]])
        if isinstance(key, slice):
            return self.take(np.arange(len(self))[key])
        return self.take(np.asarray(key))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """(K,) int row indices (any order, negatives allowed) -> (K, D) rows, reading only those rows."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = np.where(rows < 0, rows + len(self), rows).astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row indices out of range for {len(self)} rows")
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for s in np.unique(which):
            sel = which == s
            out[sel] = self.parts[s][rows[sel] - self.offsets[s]]
        return out

    def chunks(self, rows: int = 65536) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start, block)`` with blocks of at most ``rows`` rows, in order, without loading the rest."""
        for s, part in enumerate(self.parts):
            for lo in range(0, len(part), rows):
                yield int(self.offsets[s]) + lo, np.asarray(part[lo : lo + rows])


def open_sharded(folder: str | os.PathLike[str], split: str = "train") -> ShardedArray:
    """The (N, D) features of ``split`` in ``folder`` (a run's ``features/``), memory-mapped shard by shard.

    Raises:
        HardpairsError: no index (extraction did not finish), a missing or truncated shard, or rows
            that do not match the index; the message names the file and the command that rewrites it.
    """
    folder = Path(folder)
    try:
        index = read_json(folder / INDEX, None)
    except (OSError, ValueError):
        index = None
    fix = f"re-run `torchrun --nproc_per_node=G -m core extract --run-dir {folder.parent}`"
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise HardpairsError(f"{folder} has no complete shard index ({INDEX}); {fix}")
    info = index.get("splits", {}).get(split)
    if not isinstance(info, dict):
        raise HardpairsError(f"{folder / INDEX} has no split {split!r} (has {sorted(index.get('splits', {}))})")
    parts = []
    for sh in info["shards"]:
        path = folder / sh["file"]
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise HardpairsError(f"shard {path} is missing or unreadable ({err}); {fix}") from None
        if arr.ndim != 2 or len(arr) != sh["stop"] - sh["start"] or arr.shape[1] != index["dim"]:
            raise HardpairsError(
                f"shard {path} has shape {arr.shape} but the index says {sh['stop'] - sh['start']} rows of "
                f"{index['dim']}; {fix}"
            )
        parts.append(arr)
    out = ShardedArray(parts)
    if len(out) != info["n"]:
        raise HardpairsError(f"{folder / INDEX}: shards hold {len(out)} rows, the index says {info['n']}; {fix}")
    return out


def shard_index(
    world_size: int, dim: int, sizes: dict[str, int], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``index.json`` dict for ``sizes`` (split -> rows) split over ``world_size`` ranks by :func:`shard_rows`."""
    splits = {}
    for split, n in sizes.items():
        shards = []
        for r in range(world_size):
            rows = shard_rows(n, world_size, r)
            shards.append({"file": f"{split}_rank{r}.npy", "start": rows.start, "stop": rows.stop})
        splits[split] = {"n": n, "shards": shards}
    return {"format": FORMAT, "version": 1, "world_size": world_size, "dim": dim, "dtype": "float32",
            "splits": splits, **(extra or {})}  # fmt: skip

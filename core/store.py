"""The engine's keyed cache below the run layer: decoded image folders in a size-limited diskcache.

Where each cache lives and why is written in ``docs/caches.md`` (run-level analyses use the one cache rule of
``core.rundir.cache``).

* :class:`ArrayStore` -- a ``diskcache.Cache`` of array dicts (decoded image folders), by default
  in ``<repo>/cache/datasets`` (``load_dataset(..., cache_dir=...)`` moves it), evicted
  least-recently-used above ``DATASET_CACHE_BYTES``. Values are uncompressed ``.npz`` files (no
  pickle), streamed in and out without an extra copy in memory; an entry that does not read back
  is deleted and reported as a miss, so the caller recomputes it. Entries may carry a ``tag``
  (one per folder and image size) so a new version of a folder replaces the old entry instead of
  waiting for eviction.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import tempfile
import warnings
from pathlib import Path
from typing import Any

import diskcache  # type: ignore[import-untyped]
import numpy as np

from core.io import REPO_ROOT

#: Default home of decoded image folders (a diskcache directory).
DATASETS_DIR = REPO_ROOT / "cache" / "datasets"
#: Size limit of the dataset cache: 4 GiB holds e.g. 25 decoded CIFAR-sized folders (150 MB each).
DATASET_CACHE_BYTES = 4 * 2**30


def _read_npz(value: Any) -> dict[str, np.ndarray]:
    """Arrays of a stored value: an open value file (``get(read=True)``) or bytes (small values)."""
    with value if hasattr(value, "read") else io.BytesIO(value) as fh:
        with np.load(fh, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}


class ArrayStore:
    """A size-limited on-disk cache of ``{name: array}`` dicts, safe across processes (SQLite).

    Args:
        directory: the diskcache folder (created on first use); None: :data:`DATASETS_DIR`.
        size_limit: bytes kept before the least recently used entries are evicted.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, size_limit: int = DATASET_CACHE_BYTES):
        self.directory = Path(directory) if directory else DATASETS_DIR
        self.size_limit = int(size_limit)

    def _open(self) -> diskcache.Cache:
        # cull_limit=0: diskcache's own culling drops up to 10 entries at once (all of a few big
        # datasets, the new one included); :meth:`put` evicts one at a time instead.
        return diskcache.Cache(
            str(self.directory), size_limit=self.size_limit, eviction_policy="least-recently-used", cull_limit=0
        )

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``; None on a miss, a damaged entry (deleted) or an unreadable cache."""
        try:
            with self._open() as cache:
                value = cache.get(key, read=True)  # an open file: the arrays are read once, not copied
                if value is None:
                    return None
                try:
                    return _read_npz(value)
                except Exception:  # noqa: BLE001 - a damaged entry is recomputed, never trusted
                    cache.delete(key)
                    return None
        except (sqlite3.Error, OSError) as err:
            warnings.warn(f"cache {self.directory} is unreadable ({err}); delete that folder to reset it", stacklevel=2)
            return None

    def put(self, key: str, arrays: dict[str, np.ndarray], tag: str | None = None) -> None:
        """Store ``arrays`` under ``key``; first drop the entries with the same ``tag`` (older versions).

        Failures to write (full disk, unreadable cache) only warn: the caller has the arrays.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._open() as cache, tempfile.TemporaryFile(dir=self.directory) as fh:
                np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub mistakes the dict for allow_pickle
                fh.seek(0)
                if tag is not None:
                    cache.evict(tag)
                cache.set(key, fh, read=True, tag=tag)  # streamed into a value file, no copy in memory
                _evict_to_limit(cache, key)
        except (sqlite3.Error, OSError) as err:
            warnings.warn(f"could not write to the cache {self.directory} ({err}); continuing uncached", stacklevel=2)

    def keys(self) -> list[str]:
        """The stored keys, sorted."""
        with self._open() as cache:
            return sorted(str(k) for k in cache.iterkeys())

    def volume(self) -> int:
        """Bytes on disk (entries and the SQLite index), the quantity the size limit bounds."""
        with self._open() as cache:
            return int(cache.volume())


def _evict_to_limit(cache: diskcache.Cache, keep: str) -> None:
    """Delete least recently used entries, never ``keep``, until the volume fits the size limit.

    An entry larger than the whole limit is kept (alone) until the next one is stored.
    """
    while cache.volume() > cache.size_limit:
        # the ``least-recently-used`` policy's order (diskcache updates access_time on every get);
        # diskcache has no public "oldest key" call, ``_sql`` is its SQL helper (5.6.3 is pinned)
        row = cache._sql("SELECT key FROM Cache WHERE key != ? ORDER BY access_time LIMIT 1", (keep,)).fetchone()
        if row is None:
            return
        cache.delete(row[0])


def array_sha1(x: np.ndarray) -> str:
    """sha1 of an array's shape, dtype and bytes (identifies e.g. the checkpoint that produced features)."""
    x = np.ascontiguousarray(x)
    h = hashlib.sha1(f"{x.shape}|{x.dtype}|".encode())
    h.update(x.data.cast("B"))
    return h.hexdigest()

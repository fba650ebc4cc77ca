"""Reading a run's features: ``open_features(run_dir)``, the one reader, memory-mapped, of either format.

A run holds its features in one of two formats (or both):

- ``features.npz`` (``train, test, y_train, y_test``), written uncompressed by ``core.io.save_npz``,
  so every member is a plain ``.npy`` stored byte for byte inside the zip: ``core.io.map_npz``
  returns a read-only ``np.memmap`` on each (a compressed member, written by someone else with
  ``np.savez_compressed``, is read into memory instead);
- ``features/`` (sharded extraction, ``docs/scale.md``): ``{split}_rank{r}.npy`` + ``index.json``,
  read by ``core.data.shards.open_sharded`` as one (N, D) array, plus ``y_train.npy`` / ``y_test.npy``.

When both exist the newer one is read (``features.npz`` at least as new as ``features/index.json``
wins: a sharded extraction that also assembled the npz writes it last). Every analysis of a run
(scores, pairs, map, theory, prune, tags, the report) reads its features through this module:
:func:`open_features` for the arrays, :func:`feature_labels` for the labels alone, and
:func:`require_features` for the file the cache fingerprints (``core.rundir.cache``). 1M x 512
float32 train features (2 GB) are paged in as they are read, not loaded whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.data.shards import INDEX, open_sharded
from core.errors import HardpairsError
from core.io import map_npz
from core.rundir.folder import require_run

NPZ = "features.npz"
SHARDS = "features"
REQUIRED = ("train", "test", "y_train", "y_test")


def feature_source(run_dir: str | os.PathLike[str]) -> Path | None:
    """The run's current features: ``<run>/features.npz``, ``<run>/features`` (a shard folder), or None.

    A shard folder counts only with its ``index.json`` (written last: the extraction finished).
    """
    run = Path(run_dir)
    npz, index = run / NPZ, run / SHARDS / INDEX
    if not index.is_file():
        return npz if npz.is_file() else None
    if npz.is_file() and npz.stat().st_mtime_ns >= index.stat().st_mtime_ns:
        return npz
    return index.parent


def features_mtime(run_dir: str | os.PathLike[str]) -> float | None:
    """When the run's current features were written (unix time; the shard index for ``features/``), or None."""
    source = feature_source(run_dir)
    if source is None:
        return None
    return (source if source.is_file() else source / INDEX).stat().st_mtime


def require_features(run_dir: str | os.PathLike[str]) -> Path:
    """The run's current features (see :func:`feature_source`), or a clear error naming the command that makes them.

    Raises:
        HardpairsError: not a run folder, or no features yet.
    """
    source = feature_source(require_run(run_dir))
    if source is None:
        raise HardpairsError(
            f"{run_dir} has no features.npz yet. Compute them with "
            f"`python -m core probe --run-dir {run_dir}` (it extracts features first)."
        )
    return source


def _fix(run_dir: str | os.PathLike[str]) -> str:
    return f"re-extract it with `python -m core probe --run-dir {run_dir}`"


def _labels(path: Path, run_dir: str | os.PathLike[str]) -> np.ndarray:
    try:
        return np.asarray(np.load(path, allow_pickle=False), np.int64)
    except (OSError, ValueError) as err:
        raise HardpairsError(f"{path} is missing or unreadable ({err}); {_fix(run_dir)}") from None


def open_features(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The run's features: ``train`` (N, D), ``test`` (M, D) float32, ``y_train`` (N,), ``y_test`` (M,) int64.

    ``train`` / ``test`` are read-only and memory-mapped: an ``np.memmap`` (``features.npz``, or a
    shard folder of one shard) or a ``core.data.shards.ShardedArray`` (several shards; rows, row
    blocks and ``np.asarray`` work on it). The labels are small and loaded (int64 ndarrays).

    Raises:
        HardpairsError: no features yet, or an unreadable file (named, with the command that rewrites it).
    """
    source = require_features(run_dir)
    if source.name == NPZ:
        feats: dict[str, Any] = map_npz(source, REQUIRED, _fix(run_dir))
        return feats | {key: np.array(feats[key], np.int64) for key in ("y_train", "y_test")}  # small: a copy
    out: dict[str, Any] = {}
    for split in ("train", "test"):
        arr = open_sharded(source, split)
        out[split] = arr.parts[0] if len(arr.parts) == 1 else arr
        out[f"y_{split}"] = _labels(source / f"y_{split}.npy", run_dir)
        if len(out[f"y_{split}"]) != len(arr):
            raise HardpairsError(
                f"{source / f'y_{split}.npy'} has {len(out[f'y_{split}'])} labels for {len(arr)} rows; {_fix(run_dir)}"
            )
    return out


def feature_labels(run_dir: str | os.PathLike[str]) -> np.ndarray | None:
    """(N,) int64 training labels of the run's features (-1 = unlabelled), or None when it has no features.

    Raises:
        HardpairsError: the features are unreadable (the message names the file and the fix).
    """
    if feature_source(run_dir) is None:
        return None
    return np.asarray(open_features(run_dir)["y_train"], np.int64)

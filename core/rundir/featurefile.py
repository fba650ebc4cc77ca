"""Reading a run's features memory-mapped: ``open_features(run_dir)``, the one reader of large runs.

``features.npz`` is written uncompressed (``core.io.save_npz`` uses ``np.savez``), so every member
is a plain ``.npy`` stored byte for byte inside the zip. ``open_features`` finds each member's data
offset (the zip local header, then the ``.npy`` header) and returns an ``np.memmap`` (read-only) on
it: 1M x 512 float32 train features (2 GB) are paged in as they are read, not loaded whole. A
compressed member (an ``.npz`` written by someone else with ``np.savez_compressed``) is read into
memory instead. Sharded extraction (several ranks, ``docs/scale.md``) plugs in here: the analysis
only ever calls ``open_features``.
"""

from __future__ import annotations

import os

import numpy as np

from core.io import map_npz
from core.rundir.folder import require_features

REQUIRED = ("train", "test", "y_train", "y_test")


def open_features(run_dir: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The run's features memory-mapped: ``train`` (N, D), ``test`` (M, D) float32, ``y_train`` (N,), ``y_test`` (M,).

    Same keys and values as ``core.rundir.folder.load_features``; ``train`` / ``test`` are read-only
    ``np.memmap`` views of ``features.npz`` (``core.io.map_npz``); the labels are small and loaded.

    Raises:
        HardpairsError: no features yet, or an unreadable file (named, with the command that rewrites it).
    """
    path = require_features(run_dir)
    feats = map_npz(path, REQUIRED, f"re-extract it with `python -m core probe --run-dir {run_dir}`")
    for key in ("y_train", "y_test"):
        feats[key] = np.array(feats[key])
    return feats

"""The ``folder:PATH`` dataset source: an image folder, decoded once into the on-disk image store.

Layouts: ``PATH/<class>/*`` (split 80/20 per class, fixed seed) or ``PATH/train/<class>/*`` plus
``PATH/test/<class>/*``. The folder is decoded (in worker processes, ``core.data.decode`` per file) into
a store of ``core.data.imagestore`` under ``cache_dir`` (default ``<repo>/cache/images``), one per
(folder, image_size), keyed on every file's path, size and mtime (docs/caches.md); the arrays returned
are the store's read-only memmap views. Used by :func:`core.data.sources.load_dataset`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np

from core.data.imagestore import StoredImages, folder_store
from core.data.split import stratified_split
from core.errors import HardpairsError

_CACHE_VERSION = 2  # 2: the image store (1: diskcache entries)


def _class_files(root: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Class name -> sorted (path, size, mtime_ns) of its regular files (recursive, hidden skipped).

    FIFOs, sockets, devices and dangling links are skipped with a warning naming them: opening a FIFO
    would block the loader (and the trainer holding the run's lock) forever.
    """
    import warnings

    out, special = {}, []
    for d in sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")):
        files = []
        for dirpath, dirnames, filenames in os.walk(root / d):
            dirnames[:] = [n for n in dirnames if not n.startswith(".")]
            for name in filenames:
                if not name.startswith("."):
                    full = os.path.join(dirpath, name)
                    try:
                        st = os.stat(full)  # follows links: a dangling one raises
                    except OSError:
                        st = None
                    if st is None or not stat.S_ISREG(st.st_mode):
                        special.append(full)
                        continue
                    files.append((full, st.st_size, st.st_mtime_ns))
        out[d] = sorted(files)
    if special:
        warnings.warn(
            f"{root}: skipped {len(special)} entries that are not regular files (FIFOs, sockets, devices or "
            f"dangling links), e.g. {', '.join(sorted(special)[:3])}",
            stacklevel=2,
        )
    return out


_HINT = "expected PATH/<class>/<images> or PATH/train/<class>/... and PATH/test/<class>/..."


def _scan_layout(path: Path) -> tuple[list[tuple[str, int, tuple[str, int, int]]], list[str], bool]:
    """The folder's files as ``(class, split, (path, size, mtime_ns))`` (split 0 train, 1 test, -1 not
    yet split), the sorted class names, and whether it has the train/ + test/ layout."""
    hint = _HINT
    if not path.is_dir():
        raise HardpairsError(f"image folder {path} does not exist or is not a folder; {hint}")
    if (path / "train").is_dir() != (path / "test").is_dir():
        raise HardpairsError(f"{path} has only one of train/ and test/; add the other or use one level ({hint})")
    split_layout = (path / "train").is_dir()
    if split_layout:
        tr, te = _class_files(path / "train"), _class_files(path / "test")
        if set(tr) != set(te):
            raise HardpairsError(
                f"{path}: train/ and test/ class folders differ (only in train: {sorted(set(tr) - set(te))}, "
                f"only in test: {sorted(set(te) - set(tr))}); make both hold the same class folders"
            )
        groups = [(c, 0, f) for c in sorted(tr) for f in tr[c]] + [(c, 1, f) for c in sorted(te) for f in te[c]]
        classes = sorted(tr)
    else:
        cls = _class_files(path)
        groups, classes = [(c, -1, f) for c in cls for f in cls[c]], sorted(cls)
    if len(classes) < 2:
        raise HardpairsError(
            f"{path} has {len(classes)} class folder(s) {classes}; contrastive difficulty across classes needs "
            f"at least two classes -- {hint}"
        )
    return groups, classes, split_layout


def folder_stored(
    path: Path, image_size: int | None, cache_dir: str | os.PathLike[str] | None, progress: Any = None
) -> StoredImages:
    """The image store of a folder (built, or resumed, when missing): train rows first, then test.

    Unreadable files are skipped (listed in the store's ``skipped``); classes are the sorted class folders.
    """
    groups, classes, split_layout = _scan_layout(path)
    files = [f[0] for _, _, f in groups]
    cut = len(str(path))
    stats = [(f[0][cut:], f[1], f[2]) for _, _, f in groups]  # relative path, size, mtime
    key_src = json.dumps([_CACHE_VERSION, str(path.resolve()), image_size, stats])
    # One store per (folder, image_size) (the tag); a content change builds a new key and drops the old.
    tag = "folder-" + hashlib.sha1(json.dumps([str(path.resolve()), image_size]).encode()).hexdigest()[:12]
    key = f"{tag}-{hashlib.sha1(key_src.encode()).hexdigest()[:20]}"
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for c, _, _ in groups], np.int64)
    splits = np.array([s for _, s, _ in groups], np.int64)

    def layout(ok: np.ndarray) -> tuple[np.ndarray, int]:
        return _layout(path, ok, labels, splits, classes, split_layout)

    where = f"folder:{path}"
    return folder_store(
        files, labels, layout, image_size, cache_dir, where, key=key, tag=tag, classes=classes, progress=progress
    )


def _layout(
    path: Path, ok: np.ndarray, labels: np.ndarray, splits: np.ndarray, classes: list[str], split_layout: bool
) -> tuple[np.ndarray, int]:
    """Store order of the readable files (``ok``): train rows, then test (80/20 split when not given), and n_train."""
    if not ok.any():
        raise HardpairsError(f"{path}: no readable images among {len(ok)} files; {_HINT}")
    rows = np.flatnonzero(ok)
    label, split = labels[rows], splits[rows].copy()
    if not split_layout:
        train_idx, test_idx = stratified_split(label, 0.2, seed=0)
        split[test_idx] = 1
        split[train_idx] = 0
    for part, part_name in ((0, "train"), (1, "test")):
        counts = np.bincount(label[split == part], minlength=len(classes))
        if split_layout and (counts == 0).any():
            empty = [classes[i] for i in np.flatnonzero(counts == 0)]
            raise HardpairsError(f"{path}/{part_name}: class folder(s) {empty} hold no readable images; add images")
    counts = np.bincount(label, minlength=len(classes))
    if (counts == 0).any():
        empty = [classes[i] for i in np.flatnonzero(counts == 0)]
        raise HardpairsError(f"{path}: class folder(s) {empty} hold no readable images; add images or remove them")
    order = np.concatenate([np.flatnonzero(split == 0), np.flatnonzero(split == 1)])
    return rows[order], int((split == 0).sum())


def load_folder(
    path: Path, image_size: int | None, cache_dir: str | os.PathLike[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Load an image folder: (x_train, y_train, x_test, y_test, classes).

    Images are (N, C, H, W) uint8 at (image_size, image_size), or the most common size when
    None: read-only memmap views of the folder's image store (:func:`folder_stored`); labels (N,)
    int64 index the sorted class folder names. Unreadable files are skipped with a warning.
    """
    import warnings

    stored = folder_stored(path, image_size, cache_dir)
    if stored.skipped:
        warnings.warn(
            f"{path}: skipped {len(stored.skipped)} unreadable or non-image file(s), e.g. "
            f"{', '.join(stored.skipped[:3])}",
            stacklevel=3,
        )
    return stored.x_train, stored.y_train, stored.x_test, stored.y_test, list(stored.classes)

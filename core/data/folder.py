"""The ``folder:PATH`` dataset source: an image folder, decoded in threads and cached on disk.

Layouts: ``PATH/<class>/*`` (split 80/20 per class, fixed seed) or ``PATH/train/<class>/*`` plus
``PATH/test/<class>/*``. Decoded arrays are cached in a size-limited ``core.store.ArrayStore``
(diskcache) in ``cache_dir`` (default ``<repo>/cache/datasets``), one entry per (folder,
image_size), keyed on every file's path, size and mtime (docs/caches.md).
Used by :func:`core.data.sources.load_dataset`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np

from core.data.memory import check_memory
from core.data.split import stratified_split
from core.errors import HardpairsError
from core.store import ArrayStore

_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_CACHE_VERSION = 1
_CHUNK = 256  # files per thread-pool task
#: Bytes of images decoded at the same time (a 6000x6000 RGB PNG alone takes ~430 MB in flight).
_DECODE_BUDGET = 512 * 2**20


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


def _read_headers(paths: list[str], workers: int) -> list[tuple[tuple[int, int], str] | None]:
    """((width, height), PIL mode) of every file from its header only (no pixels decoded); None = unreadable."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    def headers(lo: int) -> list[tuple[tuple[int, int], str] | None]:
        out: list[tuple[tuple[int, int], str] | None] = []
        for p in paths[lo : lo + _CHUNK]:
            try:
                with Image.open(p) as im:
                    out.append((im.size, im.mode))
            except Exception:
                out.append(None)
        return out

    with ThreadPoolExecutor(workers) as pool:
        return [h for part in pool.map(headers, range(0, len(paths), _CHUNK)) for h in part]


def _decode_one(path: str, mode: str, w: int, h: int) -> np.ndarray:
    """One image file -> (C, h, w) uint8, shrunk while decoding where the format allows (JPEG draft)."""
    from PIL import Image

    with Image.open(path) as src:
        if src.size != (w, h):
            src.draft(mode, (w, h))  # JPEG: decode at a reduced scale when shrinking
        im = src.convert(mode)
    if im.size != (w, h):
        im = im.resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(im).reshape(h, w, -1).transpose(2, 0, 1)


def _decode_files(paths: list[str], image_size: int | None, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Decode images, each resized as it is decoded: (n, C, H, W) uint8 and (n,) bool ok (False = skipped).

    C is 3 if any readable file is colour, else 1; (H, W) is (image_size, image_size) or the
    most common size; other sizes are resized bilinearly by PIL. Peak memory is the output array
    plus the images in flight: big images (see :data:`_DECODE_BUDGET`) are decoded one at a time.
    The output size is checked against the memory limit (``core.data.memory``) before allocation.
    """
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(8, os.cpu_count() or 1))
    heads = _read_headers(paths, workers)
    good = [hd for hd in heads if hd is not None]
    if not good:
        return np.zeros((len(paths), 1, 1, 1), np.uint8), np.zeros(len(paths), bool)
    w, h = (image_size, image_size) if image_size else Counter(s for s, _ in good).most_common(1)[0][0]
    mode = "RGB" if any(m not in _GRAY_MODES for _, m in good) else "L"
    channels = 3 if mode == "RGB" else 1
    check_memory(
        f"decoding {where or 'the image folder'} ({len(paths)} images at {w}x{h}x{channels})",
        len(paths) * channels * w * h,  # the decoded array (train and test are views of it)
        "pass a smaller --image-size",
    )
    biggest = max(sw * sh for (sw, sh), _ in good) * 4 * 3  # decoded source + converted copy (RGBA worst case)
    workers = max(1, min(workers, _DECODE_BUDGET // max(biggest, 1)))
    out = np.zeros((len(paths), channels, h, w), np.uint8)
    ok = np.array([hd is not None for hd in heads])

    def decode(lo: int) -> None:
        for i in range(lo, min(lo + _CHUNK, len(paths))):
            if ok[i]:
                try:
                    out[i] = _decode_one(paths[i], mode, w, h)
                except Exception:
                    ok[i] = False

    # Tiny images are GIL-bound (threads barely help); large ones decode in parallel, huge ones one by one.
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(decode, range(0, len(paths), _CHUNK)))
    return out, ok


def _gather_rows_in_place(x: np.ndarray, take: np.ndarray) -> np.ndarray:
    """``x[:len(take)] = x[take]`` without a copy of ``x``: rows are moved along permutation cycles.

    Args:
        x: (N, ...) array, changed in place. take: (M,) distinct row indices, M <= N.

    Returns:
        ``x`` (its first M rows now hold the old rows ``take``; the others hold the rest in some order).
    """
    n = len(x)
    rest = np.setdiff1d(np.arange(n), take, assume_unique=True)
    perm = np.concatenate([take, rest])  # new row i = old row perm[i]
    if (perm == np.arange(n)).all():
        return x
    done = np.zeros(n, bool)
    for start in range(n):
        if done[start]:
            continue
        done[start] = True
        if perm[start] == start:
            continue
        held, i = x[start].copy(), start  # one row of scratch memory
        while perm[i] != start:
            x[i] = x[perm[i]]
            i = int(perm[i])
            done[i] = True
        x[i] = held
    return x


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


def load_folder(
    path: Path, image_size: int | None, cache_dir: str | os.PathLike[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Load an image folder: (x_train, y_train, x_test, y_test, classes).

    Images are (N, C, H, W) uint8 at (image_size, image_size), or the most common size when
    None; labels (N,) int64 index the sorted class folder names. Unreadable files are skipped
    with a warning.
    """
    import warnings

    groups, classes, split_layout = _scan_layout(path)
    hint = _HINT
    files = [f[0] for _, _, f in groups]
    cut = len(str(path))
    stats = [(f[0][cut:], f[1], f[2]) for _, _, f in groups]  # relative path, size, mtime
    key_src = json.dumps([_CACHE_VERSION, str(path.resolve()), image_size, stats])
    # One entry per (folder, image_size) (the tag); a content change stores a new key and drops the old.
    store = ArrayStore(cache_dir)
    tag = "folder-" + hashlib.sha1(json.dumps([str(path.resolve()), image_size]).encode()).hexdigest()[:12]
    key = f"{tag}-{hashlib.sha1(key_src.encode()).hexdigest()[:20]}"
    arrays = store.get(key)
    if arrays is None:
        x, ok = _decode_files(files, image_size, f"folder:{path}")
        label = np.array([classes.index(c) for c, _, _ in groups], np.int64)
        split = np.array([s for _, s, _ in groups], np.int64)
        skipped = [f for f, good in zip(files, ok, strict=True) if not good]
        if not ok.any():
            raise HardpairsError(f"{path}: no readable images among {len(files)} files; {hint}")
        rows = np.flatnonzero(ok)  # the readable files' rows of x (no copy of x is made)
        label, split = label[rows], split[rows]
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
        n_train = int((split == 0).sum())
        x = _gather_rows_in_place(x, rows[order])  # train rows first, then test: two views, no copy
        arrays = {
            "x_train": x[:n_train],
            "y_train": label[order[:n_train]],
            "x_test": x[n_train : len(order)],
            "y_test": label[order[n_train:]],
            "classes": np.array(classes, dtype=str),
            "skipped": np.array(skipped, dtype=str),
        }
        store.put(key, arrays, tag=tag)
    skipped = [str(s) for s in arrays["skipped"]]
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} unreadable or non-image file(s), e.g. {', '.join(skipped[:3])}",
            stacklevel=3,
        )
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], list(arrays["classes"])

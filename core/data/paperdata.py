"""The paper's folder datasets: ``tinyimagenet[:PATH]`` and ``imagenet:PATH``, decoded once and cached.

* ``tinyimagenet`` reads the standard ``tiny-imagenet-200`` layout (``<data root>/tiny-imagenet-200``
  or ``tinyimagenet:PATH``): ``wnids.txt`` (the 200 class ids, their order is the label order),
  ``train/<wnid>/images/*.JPEG`` (500 per class) and ``val/images/*.JPEG`` labelled by
  ``val/val_annotations.txt`` (``file<TAB>wnid<TAB>bbox...``; 50 per class). The val split is the
  test set, as in the paper (the Tiny ImageNet test labels are not public).
* ``imagenet:PATH`` reads ``PATH/train/<wnid>/*`` and ``PATH/val/<wnid>/*`` (the usual
  class-folder layout of ILSVRC-2012 after the val images are sorted into class folders);
  the paper's ImageNet-1k runs are at 96x96 (its preset sets ``image_size`` 96).

Decoded once into the on-disk image store like ``folder:`` datasets (``core.data.imagestore``, keyed
on every file's path, size and mtime; docs/caches.md); the arrays are the store's memmap views.
:func:`download_tinyimagenet` fetches and unpacks
the official zip (``--download``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from core.data.imagestore import folder_store
from core.errors import HardpairsError

TINY_FOLDER = "tiny-imagenet-200"
TINY_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
_CACHE_VERSION = 2  # 2: the image store (1: diskcache entries)
_EXTS = (".jpeg", ".jpg", ".png")

Parts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]
Files = list[tuple[str, int]]


def _images(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(str(folder / n) for n in os.listdir(folder) if n.lower().endswith(_EXTS) and not n.startswith("."))


def tinyimagenet_files(root: Path) -> tuple[Files, Files, list[str]]:
    """``(train [(path, label)], val [(path, label)], wnids)`` of a ``tiny-imagenet-200`` folder.

    Raises:
        HardpairsError: a file of the layout is missing or names an unknown class.
    """
    hint = f"expected {root}/wnids.txt, train/<wnid>/images/*.JPEG and val/val_annotations.txt + val/images/"
    if not (root / "wnids.txt").is_file():
        raise HardpairsError(
            f"tinyimagenet: {root}/wnids.txt not found; {hint}. Download {TINY_URL} and unzip it into the data "
            "root (or pass --download), or point tinyimagenet:PATH at the tiny-imagenet-200 folder"
        )
    wnids = [w.strip() for w in (root / "wnids.txt").read_text().splitlines() if w.strip()]
    index = {w: i for i, w in enumerate(wnids)}
    train = [(p, index[w]) for w in wnids for p in _images(root / "train" / w / "images")]
    ann = root / "val" / "val_annotations.txt"
    if not ann.is_file():
        raise HardpairsError(f"tinyimagenet: {ann} not found; {hint}")
    val: Files = []
    for line in ann.read_text().splitlines():
        cols = line.split("\t")
        if len(cols) < 2:
            continue
        if cols[1] not in index:
            raise HardpairsError(f"tinyimagenet: {ann} names class {cols[1]!r}, which is not in wnids.txt; {hint}")
        val.append((str(root / "val" / "images" / cols[0]), index[cols[1]]))
    if not train or not val:
        raise HardpairsError(f"tinyimagenet: {root} holds {len(train)} train and {len(val)} val images; {hint}")
    return train, val, wnids


def imagenet_files(root: Path) -> tuple[Files, Files, list[str]]:
    """``(train, val, wnids)`` of an ImageNet-style ``PATH/train/<wnid>/*`` + ``PATH/val/<wnid>/*`` folder."""
    hint = "expected PATH/train/<wnid>/*.JPEG and PATH/val/<wnid>/* (val sorted into class folders)"
    if not (root / "train").is_dir() or not (root / "val").is_dir():
        raise HardpairsError(f"imagenet: {root} lacks train/ or val/; {hint}")
    wnids = sorted(d.name for d in os.scandir(root / "train") if d.is_dir() and not d.name.startswith("."))
    extra = sorted(
        d.name for d in os.scandir(root / "val") if d.is_dir() and not d.name.startswith(".") and d.name not in wnids
    )
    if len(wnids) < 2 or extra:
        raise HardpairsError(f"imagenet: {root} has {len(wnids)} train classes and val-only classes {extra}; {hint}")
    train = [(p, i) for i, w in enumerate(wnids) for p in _images(root / "train" / w)]
    val = [(p, i) for i, w in enumerate(wnids) for p in _images(root / "val" / w)]
    if not train or not val:
        raise HardpairsError(f"imagenet: {root} holds {len(train)} train and {len(val)} val images; {hint}")
    return train, val, wnids


def decode_splits(
    train: Files, test: Files, classes: list[str], image_size: int | None, cache_dir: str | os.PathLike[str] | None
) -> Parts:
    """Decode (once, into the image store) two labelled file lists: ``(x_train, y_train, x_test, y_test, classes)``.

    Images are (N, C, S, S) uint8 at ``image_size`` (or the most common size); unreadable files are an error.
    """
    files = [p for p, _ in train] + [p for p, _ in test]
    stats = [(p, os.stat(p).st_size, os.stat(p).st_mtime_ns) if os.path.exists(p) else (p, -1, -1) for p in files]
    key_src = json.dumps([_CACHE_VERSION, image_size, len(train), stats])
    tag = "paper-" + hashlib.sha1(json.dumps([files[0], image_size]).encode()).hexdigest()[:12]
    key = f"{tag}-{hashlib.sha1(key_src.encode()).hexdigest()[:20]}"
    n = len(train)
    labels = np.array([c for _, c in train] + [c for _, c in test], np.int64)

    def layout(ok: np.ndarray) -> tuple[np.ndarray, int]:
        if not ok.all():
            bad = [f for f, good in zip(files, ok, strict=True) if not good]
            raise HardpairsError(f"{len(bad)} image(s) could not be read, e.g. {bad[:3]}; re-extract the dataset")
        return np.arange(len(files), dtype=np.int64), n

    where = f"{len(files)} images ({Path(files[0]).parent if files else '-'}, ...)"
    stored = folder_store(files, labels, layout, image_size, cache_dir, where, key=key, tag=tag, classes=list(classes))
    return stored.x_train, stored.y_train, stored.x_test, stored.y_test, list(classes)


def download_tinyimagenet(root: Path) -> Path:
    """Fetch :data:`TINY_URL` and unpack it under ``root`` (atomically: into a temporary folder, then renamed)."""
    import tempfile
    import urllib.request
    import zipfile

    target = root / TINY_FOLDER
    if (target / "wnids.txt").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        archive = Path(tmp) / "tiny.zip"
        try:
            urllib.request.urlretrieve(TINY_URL, archive)  # noqa: S310 - a fixed https/http dataset URL
        except OSError as err:
            raise HardpairsError(f"tinyimagenet: the download of {TINY_URL} failed ({err}); fetch it by hand") from err
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        os.replace(Path(tmp) / TINY_FOLDER, target)
    return target


def load_paper_folder(
    spec: str, data_root: Path, image_size: int | None, cache_dir: str | os.PathLike[str] | None, download: bool
) -> Parts:
    """``tinyimagenet``, ``tinyimagenet:PATH`` or ``imagenet:PATH`` as arrays (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if kind == "imagenet":
        if not rest.strip():
            raise HardpairsError("imagenet: needs a path, e.g. --dataset imagenet:/data/imagenet (train/ and val/)")
        return decode_splits(*imagenet_files(Path(rest).expanduser()), image_size, cache_dir)
    root = Path(rest).expanduser() if rest.strip() else data_root / TINY_FOLDER
    if download and not rest.strip():
        root = download_tinyimagenet(data_root)
    return decode_splits(*tinyimagenet_files(root), image_size, cache_dir)

"""The ``npz:PATH`` dataset source: a .npz file with x_train, y_train, x_test, y_test.

Used by :func:`core.data.sources.load_dataset`. Images may be (N,H,W), (N,H,W,C) or (N,C,H,W) with
C in {1, 3}, uint8 or float in [0, 1]; they come out as (N, C, H, W) uint8.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from core.data.memory import check_memory, gib
from core.errors import HardpairsError
from core.io import map_npz


def _npz_images(arr: np.ndarray, key: str, path: Path) -> np.ndarray:
    """(N,H,W) / (N,H,W,C) / (N,C,H,W), C in {1,3}, uint8 or float in [0,1] -> (N,C,H,W) uint8."""
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[1] not in (1, 3) and arr.shape[3] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise HardpairsError(
            f"{path}: {key} has shape {arr.shape}; expected (N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3"
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0.0 or np.nanmax(arr) > 1.0 or np.isnan(arr).any()):
            raise HardpairsError(f"{path}: float {key} must lie in [0, 1]; rescale it or save it as uint8 0..255")
        return np.ascontiguousarray(np.rint(arr * 255.0).astype(np.uint8))
    if np.issubdtype(arr.dtype, np.integer) and (arr.size == 0 or (arr.min() >= 0 and arr.max() <= 255)):
        return np.ascontiguousarray(arr.astype(np.uint8))
    raise HardpairsError(f"{path}: {key} has dtype {arr.dtype}; save it as uint8 0..255 or float in [0, 1]")


def mapped_train_images(path: Path) -> np.ndarray | None:
    """``x_train`` memory-mapped in the layout :func:`load_npz` returns, when that needs no copy: stored
    uint8, C-contiguous, as (N, C, H, W) or (N, H, W) (C = 1 or 3; :func:`_npz_images` would only add a
    view). Else None (float, NHWC or a file ``map_npz`` cannot read: ``load_npz`` converts or explains).
    Reading only the images a caller touches matters for big files (a 768 MB x_train took 3.2 s whole)."""
    try:
        x = map_npz(path).get("x_train")
    except HardpairsError:
        return None
    if x is None or x.dtype != np.uint8 or not x.flags.c_contiguous:
        return None
    if x.ndim == 3:
        x = x[:, None]
    return x if x.ndim == 4 and x.shape[1] in (1, 3) else None


def _member_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """name -> (shape, dtype) of every array in the npz, read from the zip without loading any array.

    Raises:
        HardpairsError: not a zip file, a truncated one, or a member that is not a plain ``.npy`` array.
    """
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic == b"\x93NUMPY":
        raise HardpairsError(f"{path} is a single .npy array, not an .npz; save the four arrays with numpy.savez")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        if magic[:4] == b"PK\x03\x04":
            raise HardpairsError(
                f"{path} is truncated (it starts like an .npz but its end is missing); copy or save it again"
            ) from None
        raise HardpairsError(f"{path} is not a valid .npz (zip) file; write it with numpy.savez") from None
    out: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
    with zf:
        for name in zf.namelist():
            try:
                with zf.open(name) as member:
                    version = np.lib.format.read_magic(member)
                    fmt = np.lib.format
                    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                    header = read(member)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
                raise HardpairsError(
                    f"{path}: member {name} is truncated or damaged ({err}); save the file again"
                ) from None
            out[name.removesuffix(".npy")] = (tuple(header[0]), np.dtype(header[2]))
    return out


def _check_size(path: Path, headers: dict[str, tuple[tuple[int, ...], np.dtype[Any]]]) -> None:
    """Refuse (before loading) an npz whose arrays and uint8 copies exceed the memory limit."""
    raw = sum(int(np.prod(shape, dtype=np.float64)) * dtype.itemsize for shape, dtype in headers.values())
    images = sum(int(np.prod(headers[k][0], dtype=np.float64)) for k in ("x_train", "x_test") if k in headers)
    check_memory(f"loading {path} ({gib(raw)} of arrays)", raw + 2 * images, "use a smaller file")


def _labels(path: Path, arrays: dict[str, np.ndarray], xs: list[np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """Checked labels (N,) int64 in 0..K-1 and the class names.

    Without a ``classes`` array, labels that are not already 0..K-1 are remapped in sorted order and
    their original values become the class names (a label of 10**9 allocates nothing).
    """
    ys = []
    for key, x in zip(("y_train", "y_test"), xs, strict=True):
        y = arrays[key]
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise HardpairsError(
                f"{path}: {key} must be 1-D non-negative integer labels, one per image "
                f"(got shape {y.shape}, dtype {y.dtype}, {len(x)} images)"
            )
        ys.append(y.astype(np.int64))
    unseen = np.setdiff1d(ys[1], ys[0])
    if len(unseen) and len(np.unique(ys[0])) > 1:  # one train class: load_dataset says so
        raise HardpairsError(
            f"{path}: y_test has label(s) {unseen[:5].tolist()} that never occur in y_train (train labels: "
            f"{np.unique(ys[0])[:10].tolist()}); every test class needs training images -- check the labels"
        )
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"]]
        top = int(max(ys[0].max(initial=-1), ys[1].max(initial=-1)))
        if top >= len(classes):
            raise HardpairsError(
                f"{path}: labels go up to {top} but the classes array has only {len(classes)} names; "
                "give one name per class"
            )
        return ys, classes
    values = np.unique(np.concatenate(ys))
    if len(values) and values[-1] != len(values) - 1:  # sparse labels, e.g. {3, 7, 1000000} -> 0, 1, 2
        ys = [np.searchsorted(values, y).astype(np.int64) for y in ys]
    return ys, [str(v) for v in values.tolist()]


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read and validate an npz dataset: (x_train, y_train, x_test, y_test, classes).

    Images are (N, C, H, W) uint8, labels (N,) int64 in 0..K-1; ``classes`` defaults to the label
    values ("0".."K-1" for dense labels; sparse labels are remapped, see :func:`_labels`).
    The file's size is checked against the memory limit (``core.data.memory``) before any array is read.
    """
    if not path.exists():
        raise HardpairsError(f"npz file {path} does not exist; pass npz:PATH with the path of an existing .npz file")
    if not path.is_file():
        raise HardpairsError(f"npz:{path} is not a regular file (a folder or a device); pass the path of a .npz file")
    headers = _member_headers(path)
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in headers]
    if missing:
        raise HardpairsError(
            f"{path} lacks {', '.join(missing)} (it has {', '.join(sorted(headers)) or 'nothing'}); "
            "save x_train, y_train, x_test, y_test (and optionally classes) with numpy.savez"
        )
    objects = [k for k, (_, dtype) in headers.items() if dtype.hasobject]
    if objects:
        raise HardpairsError(
            f"{path}: {', '.join(objects)} hold(s) Python objects that would need pickle to load, which Hardpairs "
            "refuses; save classes as a string array (np.array(names, dtype=str)) and the rest as numbers"
        )
    _check_size(path, headers)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise HardpairsError(f"{path} is not a readable .npz file ({err}); write it with numpy.savez") from err
    xs = [_npz_images(arrays[k], k, path) for k in ("x_train", "x_test")]
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise HardpairsError(f"{path}: x_train images are {xs[0].shape[1:]} but x_test images are {xs[1].shape[1:]}")
    ys, classes = _labels(path, arrays, xs)
    return xs[0], ys[0], xs[1], ys[1], classes

"""The ``npz:PATH`` dataset source: a .npz file with x_train, y_train, x_test, y_test.

Used by :func:`core.data.sources.load_dataset`. Images may be (N,H,W), (N,H,W,C) or (N,C,H,W) with
C in {1, 3}, uint8 or float in [0, 1]; they come out as (N, C, H, W) uint8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import HardpairsError


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


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read and validate an npz dataset: (x_train, y_train, x_test, y_test, classes).

    Images are (N, C, H, W) uint8, labels (N,) int64; ``classes`` defaults to "0".."K-1".
    """
    if not path.is_file():
        raise HardpairsError(f"npz file {path} does not exist; pass npz:PATH with the path of an existing .npz file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as err:
        raise HardpairsError(f"{path}: cannot read it without pickle ({err}); save classes as a string array") from err
    except (OSError, EOFError) as err:
        raise HardpairsError(f"{path} is not a readable .npz file ({err}); write it with numpy.savez") from err
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise HardpairsError(
            f"{path} lacks {', '.join(missing)} (it has {', '.join(sorted(arrays)) or 'nothing'}); "
            "save x_train, y_train, x_test, y_test (and optionally classes) with numpy.savez"
        )
    xs = [_npz_images(arrays[k], k, path) for k in ("x_train", "x_test")]
    ys = []
    for key, x in zip(("y_train", "y_test"), xs, strict=True):
        y = arrays[key]
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise HardpairsError(
                f"{path}: {key} must be 1-D non-negative integer labels, one per image "
                f"(got shape {y.shape}, dtype {y.dtype}, {len(x)} images)"
            )
        ys.append(y.astype(np.int64))
    if xs[0].shape[1:] != xs[1].shape[1:]:
        raise HardpairsError(f"{path}: x_train images are {xs[0].shape[1:]} but x_test images are {xs[1].shape[1:]}")
    n_cls = int(max(ys[0].max(initial=-1), ys[1].max(initial=-1))) + 1
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else [str(c) for c in range(n_cls)]
    if len(classes) < n_cls:
        raise HardpairsError(
            f"{path}: labels go up to {n_cls - 1} but the classes array has only {len(classes)} names; "
            "give one name per class"
        )
    return xs[0], ys[0], xs[1], ys[1], classes

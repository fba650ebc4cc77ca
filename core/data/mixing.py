"""The paper's omega-Mixed contamination: a copy for in-memory data, a lazy view for streamed data.

Recipe (paper sec. 5.5; our reading, spec notes sec. 6.8): ``round(mix * N)`` train images,
chosen with ``seed``, are replaced by ``lambda * img + (1 - lambda) * partner`` (rounded to uint8)
where ``partner`` is an original train image of a different class. Labels are kept; the test set is
never mixed. :func:`mix_plan` draws which rows are mixed and with whom, :func:`blend` is the pixel
formula, :func:`mix_images` applies both to an in-memory array (a new array) and
:class:`MixedImages` applies them on read to rows of a memory-mapped store (no second copy), bit
for bit the same images. ``core.data.residency`` picks which one a dataset gets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import HardpairsError


def mix_plan(y: np.ndarray, mix: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Which train rows are mixed and with which partner.

    Args:
        y: (N,) int64 labels. mix: fraction omega in [0, 1). seed: seeds the choice of rows and partners.

    Returns:
        mixed (N,) bool and mix_partner (N,) int64 (-1 where not mixed); partners are original
        (unmixed) images of a different class.
    """
    if not 0.0 <= mix < 1.0:
        raise HardpairsError(f"mix must be in [0, 1) (a fraction of train images), got {mix}; pass e.g. --mix 0.1")
    n = len(y)
    mixed = np.zeros(n, bool)
    partner = np.full(n, -1, np.int64)
    k = int(round(mix * n))
    if k == 0:
        return mixed, partner
    if len(np.unique(y)) < 2:
        raise HardpairsError("mixing needs at least two classes in the train set (partners come from another class)")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, size=k, replace=False))
    for c in np.unique(y[chosen]):
        rows = chosen[y[chosen] == c]
        others = np.flatnonzero(y != c)
        partner[rows] = others[rng.integers(0, len(others), size=len(rows))]
    mixed[chosen] = True
    return mixed, partner


def blend(own: np.ndarray, other: np.ndarray, mix_lambda: float) -> np.ndarray:
    """``rint(lambda * own + (1 - lambda) * other)`` in float32, clipped to uint8 (same shapes in and out)."""
    out = mix_lambda * own.astype(np.float32) + (1.0 - mix_lambda) * other.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def check_lambda(mix_lambda: float) -> None:
    """Raise unless ``mix_lambda`` (the weight of the original image) is in [0, 1]."""
    if not 0.0 <= mix_lambda <= 1.0:
        raise HardpairsError(f"mix_lambda must be in [0, 1] (weight of the original image), got {mix_lambda}")


def mix_images(
    x: np.ndarray, y: np.ndarray, mix: float, mix_lambda: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """omega-Mixed contamination of an in-memory train set.

    Args:
        x: (N, C, H, W) uint8 images. y: (N,) int64 labels.
        mix: fraction omega in [0, 1) of images to replace. mix_lambda: weight of the original.
        seed: seeds the choice of images and partners.

    Returns:
        x_mixed (N, C, H, W) uint8 (a new array; ``x`` itself when nothing is mixed), mixed (N,) bool,
        mix_partner (N,) int64 (-1 where not mixed).
    """
    check_lambda(mix_lambda)
    mixed, partner = mix_plan(y, mix, seed)
    if not mixed.any():
        return x, mixed, partner
    chosen = np.flatnonzero(mixed)
    out = x.copy()
    out[chosen] = blend(x[chosen], x[partner[chosen]], mix_lambda)
    return out, mixed, partner


def take_rows(x: Any, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` as a new in-memory array, read in sorted row order (page-cache locality) then reordered.

    Args:
        x: (N, ...) array-like (an ndarray, a read-only ``np.memmap``, a :class:`MixedImages`).
        rows: (k,) int row indices, any order, repeats allowed.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > 1 and bool((np.diff(rows) < 0).any()):
        order = np.argsort(rows, kind="stable")
        out = np.empty((len(rows), *x.shape[1:]), np.dtype(x.dtype))
        out[order] = np.asarray(x[rows[order]])
        return out
    return np.array(x[rows], copy=True)


class MixedImages:
    """omega-Mixed train images blended on read from a base array: ``x_mixed[i]`` without a second copy.

    Reading rows gives exactly the rows :func:`mix_images` would have produced (same plan, same
    :func:`blend`), as new in-memory arrays.

    Attributes:
        base: (N, C, H, W) uint8 unmixed images (typically a read-only ``np.memmap`` of the store).
        partner: (N,) int64 partner row of each mixed row, -1 where not mixed.
        mix_lambda: weight of the original image.
    """

    def __init__(self, base: Any, partner: np.ndarray, mix_lambda: float) -> None:
        check_lambda(mix_lambda)
        self.base = base
        self.partner = np.asarray(partner, dtype=np.int64)
        self.mix_lambda = float(mix_lambda)
        self.shape: tuple[int, ...] = tuple(int(s) for s in base.shape)
        self.dtype = np.dtype(np.uint8)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        """Rows ``key`` (an int, a slice or an int index array) -> (C, H, W) or (k, C, H, W) uint8."""
        if isinstance(key, (int, np.integer)):
            return np.asarray(self[np.asarray([int(key)])][0])
        if isinstance(key, slice):
            rows = np.arange(*key.indices(len(self)), dtype=np.int64)
            step = key.indices(len(self))[2]
            own = np.array(self.base[key], copy=True) if step == 1 else take_rows(self.base, rows)
        else:
            rows = np.asarray(key)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
            rows = rows.astype(np.int64).reshape(-1)
            rows = np.where(rows < 0, rows + len(self), rows)
            own = take_rows(self.base, rows)
        at = np.flatnonzero(self.partner[rows] >= 0)
        if len(at):
            own[at] = blend(own[at], take_rows(self.base, self.partner[rows[at]]), self.mix_lambda)
        return own

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Every row, blended (a whole copy: what ``np.asarray`` needs; the engine reads rows instead)."""
        out = self[:]
        return out if dtype is None else out.astype(dtype)

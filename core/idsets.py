"""Sets of sample ids (selections, tags, keep lists, drawn rows) as sorted int64 arrays.

NumPy 2.3+ finds the unique values of an integer array with a hash table when no index, inverse
or count is asked for, and on this project's CPU that path is ~50x slower than sorting once
(measured with NumPy 2.4.6 on 333,333 distinct ids: ``np.unique`` 0.23-0.32 s, sort + compare
0.005 s; ``np.union1d`` / ``np.setdiff1d``, which call it, 0.5 s each). A lasso over a million-point
map selects hundreds of thousands of ids, so these sort-based twins are what the app and the
analysis use for id sets. Same results as ``np.unique`` / ``np.union1d`` and, for
:func:`complement_ids`, ``np.setdiff1d`` of the range (tests/test_idsets.py checks them against NumPy).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def unique_ids(ids: ArrayLike) -> np.ndarray:
    """(U,) int64 sorted distinct values of ``ids`` (any shape, flattened); like ``np.unique``."""
    s = np.sort(np.asarray(ids, dtype=np.int64).ravel())
    if s.size < 2:
        return s
    keep = np.empty(s.shape, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def union_ids(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """(U,) int64 sorted ids in ``a`` or ``b``; like ``np.union1d``."""
    return unique_ids(np.concatenate([np.asarray(a, np.int64).ravel(), np.asarray(b, np.int64).ravel()]))


def complement_ids(n: int, ids: ArrayLike) -> np.ndarray:
    """(n - |ids ∩ [0, n)|,) int64 sorted ids in ``0..n-1`` that are not in ``ids``."""
    out = np.ones(n, dtype=bool)
    arr = np.asarray(ids, np.int64).ravel()
    out[arr[(arr >= 0) & (arr < n)]] = False
    return np.flatnonzero(out).astype(np.int64)

"""The per-class train/test split used where a source has no split of its own (digits, one-level folders)."""

from __future__ import annotations

import numpy as np

from core.idsets import complement_ids


def stratified_split(y: np.ndarray, test_frac: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-class shuffled split: (train_idx, test_idx), both sorted int64.

    Each class with >= 2 members puts ``round(test_frac * n)`` (at least 1, at most n - 1) of
    its members in the test part; a class with 1 member stays in train.
    """
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        n_test = min(max(int(round(test_frac * len(idx))), 1), len(idx) - 1) if len(idx) >= 2 else 0
        test.append(rng.permutation(idx)[:n_test])
    test_idx = np.sort(np.concatenate(test)).astype(np.int64)
    train_idx = complement_ids(len(y), test_idx)
    return train_idx, test_idx

"""Label noise: a second ground truth of bad training samples, next to Mixed-omega (``core.data.sources``).

``round(label_noise * N)`` training labels, chosen with ``seed``, are flipped to another class drawn
uniformly among the other ``n_classes - 1`` (never the same class). The images are unchanged and the test
set keeps its true labels; the probe, the kNN and every label-based score see the noisy labels, so the
flipped samples (:attr:`core.data.sources.ImageDataset.noisy`) are what a label-error finder should find.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import HardpairsError

#: Added to the seed so that the flips do not reuse the Mixed-omega choice of the same seed.
_SEED_SALT = 7_919


def flip_labels(y: np.ndarray, label_noise: float, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip a seeded fraction of labels, each to a different class.

    Args:
        y: (N,) int64 labels in ``[0, n_classes)``.
        label_noise: fraction W in [0, 1) of labels to flip (``round(W * N)`` of them).
        n_classes: number of classes (at least 2 when anything is flipped).
        seed: seeds which labels flip and to what; the same seed gives the same flips.

    Returns:
        y_noisy (N,) int64 (a new array), noisy (N,) bool (True where the label was flipped).
    """
    if not 0.0 <= label_noise < 1.0:
        raise HardpairsError(f"label noise must be in [0, 1) (a fraction of train labels), got {label_noise}")
    y = np.asarray(y, dtype=np.int64)
    noisy = np.zeros(len(y), bool)
    k = int(round(label_noise * len(y)))
    if k == 0:
        return y.copy(), noisy
    if (y < 0).any():
        raise HardpairsError("label noise needs a fully labelled train set (this one has unlabelled images, -1)")
    if n_classes < 2:
        raise HardpairsError("label noise needs at least two classes (a label flips to another class)")
    rng = np.random.default_rng(int(seed) + _SEED_SALT)
    chosen = np.sort(rng.choice(len(y), size=k, replace=False))
    out = y.copy()
    out[chosen] = (y[chosen] + rng.integers(1, n_classes, size=k)) % n_classes  # a shift of 1..C-1: another class
    noisy[chosen] = True
    return out, noisy


def noisy_labels(
    y: np.ndarray, n_classes: int, label_noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`flip_labels` plus the settings a dataset's fingerprint hashes (``{}`` without label noise).

    Returns:
        y_noisy (N,) int64, noisy (N,) bool, settings ``{"label_noise", "noise_seed"}`` or ``{}``.
    """
    y_noisy, noisy = flip_labels(y, label_noise, n_classes, seed)
    settings = {"label_noise": float(label_noise), "noise_seed": int(seed)} if label_noise > 0 else {}
    return y_noisy, noisy, settings

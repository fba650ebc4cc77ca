"""Image datasets as uint8 arrays (in memory or streamed from the store), the public entry point.

``load_dataset(spec)`` returns an :class:`ImageDataset` whose arrays are ``(N, C, H, W) uint8``
images and ``(N,) int64`` labels. Sources (see :func:`list_sources`): ``digits`` (built in),
``cifar10``/``cifar100``/``stl10`` (torchvision files under the data root), ``folder:PATH``
(an image folder, decoded in a thread pool and cached on disk) and ``npz:PATH``. The readers live in
:mod:`core.data.downloads`, :mod:`core.data.folder` and :mod:`core.data.npz`; this module is
the public entry point.

Mixed contamination (paper sec. 5.5): :mod:`core.data.mixing`. Where the images live (in memory,
or streamed from the on-disk image store) is THE rule of :func:`core.data.residency.place_images`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.decode import resize_images as resize_images  # THE resize (core.data.decode)
from core.data.downloads import TORCHVISION_SOURCES, load_torchvision
from core.data.folder import load_folder
from core.data.labelnoise import noisy_labels
from core.data.mixing import mix_images as mix_images  # re-exported: the in-memory blend
from core.data.npz import load_npz
from core.data.paperdata import load_paper_folder
from core.data.residency import hash_arrays, mixed_train, place_images, row_chunks
from core.data.split import stratified_split
from core.errors import HardpairsError
from core.io import REPO_ROOT


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled train/test image dataset.

    The images are in-memory arrays or, when streamed from the image store
    (``core.data.residency.place_images``), read-only ``np.memmap`` views (``x_train`` a
    ``core.data.mixing.MixedImages`` view when mixed): read them by rows, never whole.

    Attributes:
        x_train: (N, C, H, W) uint8 train images (after mixing, when ``mix > 0``).
        y_train: (N,) int64 labels in ``[0, n_classes)``; -1 = unlabelled (``stl10+unlabeled``).
        x_test: (M, C, H, W) uint8 test images (never mixed).
        y_test: (M,) int64 labels.
        classes: class names, index = label.
        name: short source name, e.g. ``"digits"``, ``"folder:my_imgs"``.
        spec: the spec string the dataset was loaded from.
        fingerprint: sha1 hex of the arrays, class names and mix settings.
        mixed: (N,) bool, True where a train image was replaced by a mix.
        mix_partner: (N,) int64 index of the partner train image, -1 where not mixed.
        noisy: (N,) bool, True where a train label was flipped (``label_noise``, ``core.data.labelnoise``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    name: str
    spec: str
    fingerprint: str
    mixed: np.ndarray = field(repr=False)
    mix_partner: np.ndarray = field(repr=False)
    noisy: np.ndarray = field(default_factory=lambda: np.zeros(0, bool), repr=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every image."""
        return int(self.x_train.shape[2]), int(self.x_train.shape[3])

    @cached_property
    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        # Exact per-channel moments of x_train / 255 from a 256-bin histogram (no float copy).
        # Read in row chunks: a streamed x_train is never read whole.
        values = np.arange(256, dtype=np.float64) / 255.0
        hists = np.zeros((self.channels, 256), np.float64)
        for part in row_chunks(self.x_train):
            for c in range(self.channels):
                hists[c] += torch.bincount(torch.from_numpy(part[:, c]).reshape(-1), minlength=256).double().numpy()
        mean, std = [], []
        for hist in hists:
            m = float((hist * values).sum() / max(hist.sum(), 1.0))
            var = float((hist * (values - m) ** 2).sum() / max(hist.sum(), 1.0))
            mean.append(m)
            std.append(max(var, 1e-12) ** 0.5)
        return np.asarray(mean, np.float32), np.asarray(std, np.float32)

    @property
    def mean(self) -> np.ndarray:
        """(C,) float32 per-channel mean of ``x_train / 255``."""
        return self._moments[0]

    @property
    def std(self) -> np.ndarray:
        """(C,) float32 per-channel standard deviation of ``x_train / 255``."""
        return self._moments[1]


#: every dataset spec ``load_dataset`` accepts (``PATH``: a path; ``[...]``: optional) -> what it loads
DATASET_SPECS: dict[str, str] = {
    "digits": "scikit-learn 8x8 handwritten digits, 1797 images, 10 classes (built in)",
    "cifar10": "CIFAR-10, 50000/10000 32x32 RGB (torchvision files under the data root)",
    "cifar100": "CIFAR-100, 50000/10000 32x32 RGB (torchvision files under the data root)",
    "stl10": "STL-10 labelled splits, 5000/8000 96x96 RGB (torchvision files under the data root)",
    "stl10+unlabeled": "STL-10 train + the 100000 unlabelled images (label -1) for pretraining; test 8000",
    "tinyimagenet[:PATH]": "Tiny ImageNet (tiny-imagenet-200 layout), 100000/10000 64x64, 200 classes",
    "imagenet:PATH": "ImageNet-style PATH/train/<wnid>/* and PATH/val/<wnid>/* (paper: 96x96)",
    "folder:PATH": "PATH/train/<class>/* + PATH/test/<class>/*, or PATH/<class>/* (split 80/20)",
    "npz:PATH": ".npz with x_train, y_train, x_test, y_test (optional classes)",
}


def list_sources() -> list[str]:
    """Human-readable descriptions of every valid dataset spec (for help texts and the UI)."""
    return [f"{spec} -- {what}" for spec, what in DATASET_SPECS.items()]


def default_data_root(override: str | os.PathLike[str] | None = None) -> Path:
    """``override``, else ``$HARDPAIRS_DATA``, else ``<repo>/data``."""
    if override:
        return Path(override)
    env = os.environ.get("HARDPAIRS_DATA")
    return Path(env) if env else REPO_ROOT / "data"


def _fingerprint(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: tuple[str, ...] | list[str],
    mix_settings: dict[str, Any],
) -> str:
    h = hashlib.sha1()
    hash_arrays(h, (x_train, y_train, x_test, y_test))  # in row chunks: the same sha1 as one contiguous read
    h.update(json.dumps({"classes": list(classes), **mix_settings}, sort_keys=True).encode())
    return h.hexdigest()


def _load_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.rint(bunch.images * 255.0 / 16.0).clip(0, 255).astype(np.uint8)[:, None]
    y = bunch.target.astype(np.int64)
    train, test = stratified_split(y, 0.2, seed=0)  # fixed: the test set never changes
    return x[train], y[train], x[test], y[test], [str(c) for c in range(10)]


def load_dataset(
    spec: str,
    *,
    mix: float = 0.0,
    mix_lambda: float = 0.5,
    seed: int = 0,
    download: bool = False,
    image_size: int | None = None,
    data_root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    label_noise: float = 0.0,
) -> ImageDataset:
    """Load a dataset by spec (see :func:`list_sources`), optionally resized and omega-Mixed.

    Args:
        spec: one of :data:`DATASET_SPECS` (``PATH`` replaced by a path).
        mix: fraction in [0, 1) of train images replaced by a mix with another class.
        mix_lambda: weight of the original image in a mix.
        seed: seeds the mixing and the label noise only; splits are fixed.
        download: let torchvision download cifar10/cifar100/stl10 when missing.
        image_size: resize every image to (image_size, image_size); None keeps the source size
            (for folders: the most common size).
        data_root: where torchvision datasets live (default ``$HARDPAIRS_DATA`` or ``<repo>/data``).
        cache_dir: where image stores live (default ``$HARDPAIRS_CACHE_DIR/images`` or ``<repo>/cache/images``).
        label_noise: fraction in [0, 1) of train labels flipped to another class (``core.data.labelnoise``).
    """
    spec = spec.strip()
    if image_size is not None and image_size < 1:
        raise HardpairsError(f"image_size must be a positive number of pixels, got {image_size}")
    if not 0.0 <= mix < 1.0:
        raise HardpairsError(f"mix must be in [0, 1) (a fraction of train images), got {mix}; pass e.g. --mix 0.1")
    resized = False
    if spec == "digits":
        name, parts = "digits", _load_digits()
    elif spec in TORCHVISION_SOURCES:
        name, parts = spec, load_torchvision(spec, default_data_root(data_root), download)
    elif spec.split(":", 1)[0] in ("tinyimagenet", "imagenet"):
        name = spec.split(":", 1)[0]
        parts = load_paper_folder(spec, default_data_root(data_root), image_size, cache_dir, download)
        resized = True
    elif spec.startswith("folder:"):
        if not spec[len("folder:") :].strip():
            raise HardpairsError("folder: needs a path, e.g. --dataset folder:/data/my_images")
        path = Path(spec[len("folder:") :]).expanduser()
        name, parts = f"folder:{path.name}", load_folder(path, image_size, cache_dir)
        resized = True
    elif spec.startswith("npz:"):
        path = Path(spec[len("npz:") :]).expanduser()
        name, parts = f"npz:{path.stem}", load_npz(path)
    else:
        raise HardpairsError(f"unknown dataset '{spec}'. Valid sources:\n  " + "\n  ".join(list_sources()))
    x_train, y_train, x_test, y_test, classes = parts
    if len(np.unique(y_train)) < 2:
        raise HardpairsError(
            f"dataset '{spec}' has a single class in its train set (every train image is labelled "
            f"{classes[int(y_train[0])] if len(y_train) else None!r}); contrastive difficulty across "
            "classes needs at least two classes -- add images of another class"
        )
    x_train, x_test = place_images(spec, parts, None if resized else image_size, cache_dir)
    x_train, mixed, partner = mixed_train(x_train, y_train, mix, mix_lambda, seed)
    y_train, noisy, noise = noisy_labels(y_train, len(classes), label_noise, seed)
    settings = {"mix": float(mix), "mix_lambda": float(mix_lambda), "mix_seed": int(seed)} if mix > 0 else {"mix": 0.0}
    return ImageDataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        classes=[str(c) for c in classes],
        name=name,
        spec=spec,
        fingerprint=_fingerprint(x_train, y_train, x_test, y_test, classes, settings | noise),
        mixed=mixed,
        mix_partner=partner,
        noisy=noisy,
    )

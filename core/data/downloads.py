"""torchvision dataset sources (``cifar10``, ``cifar100``, ``stl10``) as uint8 arrays.

Used by :func:`core.data.sources.load_dataset`; the files live under the data root
(:func:`core.data.sources.default_data_root`) in the folder layout torchvision expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import HardpairsError

TORCHVISION_SOURCES = {  # spec -> (class name, folder torchvision expects, download page)
    "cifar10": ("CIFAR10", "cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "cifar100": ("CIFAR100", "cifar-100-python", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
    "stl10": ("STL10", "stl10_binary", "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"),
    # pretraining on train + the 100k unlabelled images (label -1); the probe uses the labelled rows only
    "stl10+unlabeled": ("STL10", "stl10_binary", "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"),
}


def load_torchvision(
    name: str, root: Path, download: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Load a torchvision source: (x_train, y_train, x_test, y_test, classes).

    Images are (N, C, H, W) uint8, labels (N,) int64. ``name`` is a key of
    :data:`TORCHVISION_SOURCES`; ``download`` lets torchvision fetch missing files.
    """
    import torchvision.datasets as tvd

    cls_name, folder, url = TORCHVISION_SOURCES[name]
    cls = getattr(tvd, cls_name)
    try:
        if name.startswith("stl10"):
            split = "train+unlabeled" if name == "stl10+unlabeled" else "train"
            tr, te = cls(str(root), split=split, download=download), cls(str(root), split="test", download=download)
            xs = [np.asarray(tr.data, np.uint8), np.asarray(te.data, np.uint8)]
            ys = [np.asarray(tr.labels), np.asarray(te.labels)]
        else:
            tr, te = cls(str(root), train=True, download=download), cls(str(root), train=False, download=download)
            xs = [np.ascontiguousarray(np.asarray(d.data, np.uint8).transpose(0, 3, 1, 2)) for d in (tr, te)]
            ys = [np.asarray(tr.targets), np.asarray(te.targets)]
    except (RuntimeError, OSError) as err:
        how = "the download failed" if download else "the files are missing or incomplete"
        raise HardpairsError(
            f"{name}: {how} ({err}). Put the extracted folder '{folder}' from {url} at {root / folder} "
            f"(or point --data-root / $HARDPAIRS_DATA at its parent), or pass --download when online."
        ) from err
    return xs[0], ys[0].astype(np.int64), xs[1], ys[1].astype(np.int64), list(tr.classes)

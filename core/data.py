"""Image datasets as uint8 arrays, plus the paper's omega-Mixed contamination.

``load_dataset(spec)`` returns an :class:`ImageDataset` whose arrays are ``(N, C, H, W) uint8``
images and ``(N,) int64`` labels. Sources (see :func:`list_sources`): ``digits`` (built in),
``cifar10``/``cifar100``/``stl10`` (torchvision files under the data root), ``folder:PATH``
(an image folder, decoded in a thread pool and cached on disk) and ``npz:PATH``.

Mixed contamination (paper sec. 5.5; the recipe is our assumption, spec notes sec. 6.8):
``round(mix * N)`` train images, chosen with ``seed``, are replaced by
``lambda * img + (1 - lambda) * partner`` where ``partner`` is an original train image of a
different class. Labels are kept; the test set is never mixed.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import HardpairsError
from .runs import REPO_ROOT

_TORCHVISION = {  # spec -> (class name, folder torchvision expects, download page)
    "cifar10": ("CIFAR10", "cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    "cifar100": ("CIFAR100", "cifar-100-python", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
    "stl10": ("STL10", "stl10_binary", "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"),
}


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A labelled train/test image dataset.

    Attributes:
        x_train: (N, C, H, W) uint8 train images (after mixing, when ``mix > 0``).
        y_train: (N,) int64 labels in ``[0, n_classes)``.
        x_test: (M, C, H, W) uint8 test images (never mixed).
        y_test: (M,) int64 labels.
        classes: class names, index = label.
        name: short source name, e.g. ``"digits"``, ``"folder:my_imgs"``.
        spec: the spec string the dataset was loaded from.
        fingerprint: sha1 hex of the arrays, class names and mix settings.
        mixed: (N,) bool, True where a train image was replaced by a mix.
        mix_partner: (N,) int64 index of the partner train image, -1 where not mixed.
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
        values = np.arange(256, dtype=np.float64) / 255.0
        mean, std = [], []
        for c in range(self.channels):
            hist = torch.bincount(torch.from_numpy(self.x_train[:, c]).reshape(-1), minlength=256).double().numpy()
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


def list_sources() -> list[str]:
    """Human-readable descriptions of every valid dataset spec (for help texts and the UI)."""
    return [
        "digits -- scikit-learn 8x8 handwritten digits, 1797 images, 10 classes (built in)",
        "cifar10 -- CIFAR-10, 50000/10000 32x32 RGB (torchvision files under the data root)",
        "cifar100 -- CIFAR-100, 50000/10000 32x32 RGB (torchvision files under the data root)",
        "stl10 -- STL-10 labelled splits, 5000/8000 96x96 RGB (torchvision files under the data root)",
        "folder:PATH -- PATH/train/<class>/* + PATH/test/<class>/*, or PATH/<class>/* (split 80/20)",
        "npz:PATH -- .npz with x_train, y_train, x_test, y_test (optional classes)",
    ]


def default_data_root(override: str | os.PathLike | None = None) -> Path:
    """``override``, else ``$HARDPAIRS_DATA``, else ``<repo>/data``."""
    if override:
        return Path(override)
    env = os.environ.get("HARDPAIRS_DATA")
    return Path(env) if env else REPO_ROOT / "data"


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
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx).astype(np.int64)
    return train_idx, test_idx


def resize_images(x: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    """Bilinear (antialiased) resize of (N, C, H, W) uint8 to (N, C, size, size) uint8."""
    if x.shape[2] == size and x.shape[3] == size:
        return x
    out = np.empty((x.shape[0], x.shape[1], size, size), np.uint8)
    for start in range(0, len(x), chunk):
        part = torch.from_numpy(np.ascontiguousarray(x[start : start + chunk])).float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out[start : start + chunk] = part.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out


def mix_images(
    x: np.ndarray, y: np.ndarray, mix: float, mix_lambda: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """omega-Mixed contamination of a train set.

    Args:
        x: (N, C, H, W) uint8 images. y: (N,) int64 labels.
        mix: fraction omega in [0, 1) of images to replace. mix_lambda: weight of the original.
        seed: seeds the choice of images and partners.

    Returns:
        x_mixed (N, C, H, W) uint8 (a new array), mixed (N,) bool, mix_partner (N,) int64
        (-1 where not mixed). Partners are original (unmixed) images of a different class.
    """
    if not 0.0 <= mix < 1.0:
        raise HardpairsError(f"mix must be in [0, 1) (a fraction of train images), got {mix}; pass e.g. --mix 0.1")
    if not 0.0 <= mix_lambda <= 1.0:
        raise HardpairsError(f"mix_lambda must be in [0, 1] (weight of the original image), got {mix_lambda}")
    n = len(y)
    mixed = np.zeros(n, bool)
    partner = np.full(n, -1, np.int64)
    k = int(round(mix * n))
    if k == 0:
        return x, mixed, partner
    if len(np.unique(y)) < 2:
        raise HardpairsError("mixing needs at least two classes in the train set (partners come from another class)")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, size=k, replace=False))
    for c in np.unique(y[chosen]):
        rows = chosen[y[chosen] == c]
        others = np.flatnonzero(y != c)
        partner[rows] = others[rng.integers(0, len(others), size=len(rows))]
    mixed[chosen] = True
    out = x.copy()
    blend = mix_lambda * x[chosen].astype(np.float32) + (1.0 - mix_lambda) * x[partner[chosen]].astype(np.float32)
    out[chosen] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out, mixed, partner


def _fingerprint(x_train, y_train, x_test, y_test, classes, mix_settings: dict) -> str:
    h = hashlib.sha1()
    for arr in (x_train, y_train, x_test, y_test):
        h.update(str((arr.shape, arr.dtype.str)).encode())
        h.update(np.ascontiguousarray(arr).data)
    h.update(json.dumps({"classes": list(classes), **mix_settings}, sort_keys=True).encode())
    return h.hexdigest()


def _load_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.rint(bunch.images * 255.0 / 16.0).clip(0, 255).astype(np.uint8)[:, None]
    y = bunch.target.astype(np.int64)
    train, test = stratified_split(y, 0.2, seed=0)  # fixed: the test set never changes
    return x[train], y[train], x[test], y[test], [str(c) for c in range(10)]


def _load_torchvision(name: str, root: Path, download: bool):
    import torchvision.datasets as tvd

    cls_name, folder, url = _TORCHVISION[name]
    cls = getattr(tvd, cls_name)
    try:
        if name == "stl10":
            tr, te = cls(str(root), split="train", download=download), cls(str(root), split="test", download=download)
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


def _load_npz(path: Path):
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
    for key, x in zip(("y_train", "y_test"), xs):
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


_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_CACHE_VERSION = 1
_CHUNK = 256  # files per thread-pool task


def _class_files(root: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Class name -> sorted (path, size, mtime_ns) of its files (recursive, hidden skipped)."""
    out = {}
    for d in sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")):
        files = []
        for dirpath, dirnames, filenames in os.walk(root / d):
            dirnames[:] = [n for n in dirnames if not n.startswith(".")]
            for name in filenames:
                if not name.startswith("."):
                    full = os.path.join(dirpath, name)
                    st = os.stat(full)
                    files.append((full, st.st_size, st.st_mtime_ns))
        out[d] = sorted(files)
    return out


def _decode_files(paths: list[str], image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Decode images in a thread pool: (n, C, H, W) uint8 and (n,) bool ok (False = skipped).

    C is 3 if any readable file is colour, else 1; (H, W) is (image_size, image_size) or the
    most common size; other sizes are resized bilinearly by PIL.
    """
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    def headers(lo: int) -> list:
        out = []
        for p in paths[lo : lo + _CHUNK]:
            try:
                with Image.open(p) as im:
                    out.append((im.size, im.mode))
            except Exception:
                out.append(None)
        return out

    starts = range(0, len(paths), _CHUNK)
    # Tiny images are GIL-bound (threads barely help); large ones decode in parallel.
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        heads = [h for part in pool.map(headers, starts) for h in part]
        good = [h for h in heads if h is not None]
        if not good:
            return np.zeros((len(paths), 1, 1, 1), np.uint8), np.zeros(len(paths), bool)
        w, h = (image_size, image_size) if image_size else Counter(s for s, _ in good).most_common(1)[0][0]
        mode = "RGB" if any(m not in _GRAY_MODES for _, m in good) else "L"
        out = np.zeros((len(paths), h, w, 3 if mode == "RGB" else 1), np.uint8)
        ok = np.array([hd is not None for hd in heads])

        def decode(lo: int) -> None:
            for i in range(lo, min(lo + _CHUNK, len(paths))):
                if not ok[i]:
                    continue
                try:
                    with Image.open(paths[i]) as im:
                        if im.size != (w, h):
                            im.draft(mode, (w, h))  # JPEG: decode at a reduced scale when shrinking
                        im = im.convert(mode)
                        if im.size != (w, h):
                            im = im.resize((w, h), Image.Resampling.BILINEAR)
                        out[i] = np.asarray(im).reshape(h, w, -1)
                except Exception:
                    ok[i] = False

        list(pool.map(decode, starts))
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)), ok


def _load_folder(path: Path, image_size: int | None, cache_dir: str | os.PathLike | None):
    import warnings

    from .runs import save_npz

    hint = "expected PATH/<class>/<images> or PATH/train/<class>/... and PATH/test/<class>/..."
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
    files = [f[0] for _, _, f in groups]
    cut = len(str(path))
    stats = [(f[0][cut:], f[1], f[2]) for _, _, f in groups]  # relative path, size, mtime
    key_src = json.dumps([_CACHE_VERSION, str(path.resolve()), image_size, stats])
    cache = Path(cache_dir) if cache_dir else REPO_ROOT / "cache" / "datasets"
    # One cache file per (folder, image_size); a content change writes a new file and drops the old.
    prefix = "folder-" + hashlib.sha1(json.dumps([str(path.resolve()), image_size]).encode()).hexdigest()[:12]
    cache_file = cache / f"{prefix}-{hashlib.sha1(key_src.encode()).hexdigest()[:20]}.npz"
    arrays = None
    if cache_file.exists():
        try:
            with np.load(cache_file, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception:  # a damaged cache file is rebuilt, never trusted
            arrays = None
    if arrays is None:
        x, ok = _decode_files(files, image_size)
        label = np.array([classes.index(c) for c, _, _ in groups], np.int64)
        split = np.array([s for _, s, _ in groups], np.int64)
        skipped = [f for f, good in zip(files, ok) if not good]
        if not ok.any():
            raise HardpairsError(f"{path}: no readable images among {len(files)} files; {hint}")
        x, label, split = x[ok], label[ok], split[ok]
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
        arrays = {
            "x_train": x[split == 0],
            "y_train": label[split == 0],
            "x_test": x[split == 1],
            "y_test": label[split == 1],
            "classes": np.array(classes, dtype=str),
            "skipped": np.array(skipped, dtype=str),
        }
        save_npz(cache_file, **arrays)
        for stale in cache.glob(f"{prefix}-*.npz"):
            if stale != cache_file:
                stale.unlink(missing_ok=True)
    skipped = [str(s) for s in arrays["skipped"]]
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} unreadable or non-image file(s), e.g. {', '.join(skipped[:3])}",
            stacklevel=3,
        )
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], list(arrays["classes"])


def load_dataset(
    spec: str,
    *,
    mix: float = 0.0,
    mix_lambda: float = 0.5,
    seed: int = 0,
    download: bool = False,
    image_size: int | None = None,
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> ImageDataset:
    """Load a dataset by spec (see :func:`list_sources`), optionally resized and omega-Mixed.

    Args:
        spec: ``digits``, ``cifar10``, ``cifar100``, ``stl10``, ``folder:PATH`` or ``npz:PATH``.
        mix: fraction in [0, 1) of train images replaced by a mix with another class.
        mix_lambda: weight of the original image in a mix.
        seed: seeds the mixing only; splits are fixed.
        download: let torchvision download cifar10/cifar100/stl10 when missing.
        image_size: resize every image to (image_size, image_size); None keeps the source size
            (for folders: the most common size).
        data_root: where torchvision datasets live (default ``$HARDPAIRS_DATA`` or ``<repo>/data``).
        cache_dir: cache of decoded image folders (default ``<repo>/cache/datasets``).
    """
    spec = spec.strip()
    if image_size is not None and image_size < 1:
        raise HardpairsError(f"image_size must be a positive number of pixels, got {image_size}")
    if not 0.0 <= mix < 1.0:
        raise HardpairsError(f"mix must be in [0, 1) (a fraction of train images), got {mix}; pass e.g. --mix 0.1")
    resized = False
    if spec == "digits":
        name, parts = "digits", _load_digits()
    elif spec in _TORCHVISION:
        name, parts = spec, _load_torchvision(spec, default_data_root(data_root), download)
    elif spec.startswith("folder:"):
        path = Path(spec[len("folder:") :]).expanduser()
        name, parts = f"folder:{path.name}", _load_folder(path, image_size, cache_dir)
        resized = True
    elif spec.startswith("npz:"):
        path = Path(spec[len("npz:") :]).expanduser()
        name, parts = f"npz:{path.stem}", _load_npz(path)
    else:
        raise HardpairsError(f"unknown dataset '{spec}'. Valid sources:\n  " + "\n  ".join(list_sources()))
    x_train, y_train, x_test, y_test, classes = parts
    if len(np.unique(y_train)) < 2:
        raise HardpairsError(
            f"dataset '{spec}' has a single class in its train set; contrastive difficulty across "
            "classes needs at least two classes -- add images of another class"
        )
    if image_size is not None and not resized:
        x_train, x_test = resize_images(x_train, image_size), resize_images(x_test, image_size)
    x_train, mixed, partner = mix_images(x_train, y_train, mix, mix_lambda, seed)
    settings = {"mix": float(mix), "mix_lambda": float(mix_lambda), "mix_seed": int(seed)} if mix > 0 else {"mix": 0.0}
    return ImageDataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        classes=[str(c) for c in classes],
        name=name,
        spec=spec,
        fingerprint=_fingerprint(x_train, y_train, x_test, y_test, classes, settings),
        mixed=mixed,
        mix_partner=partner,
    )

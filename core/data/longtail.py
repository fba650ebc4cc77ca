"""TinyImageNet-LT: a long-tailed folder dataset built from a ``tiny-imagenet-200`` folder (the paper's Table 6).

The v2 text names the dataset ("tiny-Imagenet-LT", Table 6, Appendix A.5) but not its imbalance rule.
Our reading (docs/paper-fidelity.md): the usual exponential profile of Cui et al. (2019), class ``i``
(``i = 0 .. C-1`` in a seeded class order) keeps ``n_i = floor(n_max * R^(-i / (C - 1)))`` training
images (at least 1), ``n_max`` the smallest per-class count of the source (500 for TinyImageNet) and
``R = n_0 / n_{C-1}`` the imbalance ratio (``--imbalance``, default 100); which images a class keeps is a
seeded draw. The test set stays balanced: every ``val`` image.

:func:`build_longtail` writes ``OUT/train/<wnid>/<file>`` and ``OUT/test/<wnid>/<file>`` as symbolic links
to the original files (the ``folder:OUT`` layout of ``core.data.folder``) and ``OUT/longtail.json``, the
manifest (source, rule, ratio, seed, class order, per-class counts). Building into a folder that already
holds the same build returns its manifest; any other non-empty folder is refused.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import HardpairsError
from core.io import read_json, write_json

MANIFEST = "longtail.json"
RULE = "n_i = floor(n_max * R^(-i/(C-1))), at least 1 (exponential profile, Cui et al. 2019)"


def longtail_counts(n_max: int, n_classes: int, imbalance: float) -> list[int]:
    """Per-class training counts of the exponential profile, head first: ``n_i = floor(n_max * R^(-i/(C-1)))``.

    Raises:
        HardpairsError: fewer than 2 classes, ``n_max < 1`` or ``imbalance < 1``.
    """
    if n_classes < 2 or n_max < 1:
        raise HardpairsError(f"longtail: need >= 2 classes and >= 1 image per class (got {n_classes}, {n_max})")
    if not math.isfinite(imbalance) or imbalance < 1:
        raise HardpairsError(
            f"--imbalance must be a ratio >= 1 (n_max / n_min; the usual value is 100; got {imbalance})"
        )
    return [max(1, math.floor(n_max * imbalance ** (-i / (n_classes - 1)) + 1e-9)) for i in range(n_classes)]


def _source_root(spec: str, data_root: str | os.PathLike[str] | None) -> Path:
    from core.data.paperdata import TINY_FOLDER
    from core.data.sources import default_data_root

    kind, _, rest = spec.partition(":")
    if kind != "tinyimagenet":
        raise HardpairsError(f"longtail: --dataset must be tinyimagenet or tinyimagenet:PATH (got {spec!r})")
    return Path(rest).expanduser() if rest.strip() else default_data_root(data_root) / TINY_FOLDER


def _plan(spec: str, root: Path, imbalance: float, seed: int) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The manifest and the train/test file lists (``"train/<wnid>/<name>" -> source path``) of one build."""
    from core.data.paperdata import tinyimagenet_files

    train, val, wnids = tinyimagenet_files(root)
    per_class: list[list[str]] = [[] for _ in wnids]
    for path, label in train:
        per_class[label].append(path)
    counts = longtail_counts(min(len(f) for f in per_class), len(wnids), imbalance)
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(len(wnids))]  # order[0] is the head class
    links: dict[str, list[str]] = {"train": [], "test": []}
    kept: dict[str, int] = {}
    for rank, label in enumerate(order):
        files = sorted(per_class[label])
        pick = sorted(int(k) for k in rng.choice(len(files), counts[rank], replace=False))
        links["train"] += [files[k] for k in pick]
        kept[wnids[label]] = counts[rank]
    links["test"] = [p for p, _ in val]
    labels = {p: wnids[y] for p, y in [*train, *val]}
    manifest = {
        "source": spec,
        "source_root": str(root.resolve()),
        "rule": RULE,
        "imbalance": imbalance,
        "seed": seed,
        "n_max": counts[0],
        "n_min": counts[-1],
        "class_order": [wnids[i] for i in order],
        "train_counts": kept,
        "n_train": sum(counts),
        "n_test": len(val),
    }
    return manifest, {part: [f"{labels[p]}\t{p}" for p in files] for part, files in links.items()}


def build_longtail(
    spec: str, imbalance: float, out: str | os.PathLike[str], seed: int = 0, data_root: str | None = None
) -> dict[str, Any]:
    """Build TinyImageNet-LT into ``out`` (see the module docstring); returns the manifest (+ ``"out"``, ``"reused"``).

    Raises:
        HardpairsError: not a TinyImageNet source, a bad ratio, or ``out`` holds something else.
    """
    out_dir = Path(out).expanduser()
    root = _source_root(spec, data_root)
    manifest, links = _plan(spec, root, float(imbalance), int(seed))
    old = read_json(out_dir / MANIFEST, default=None)
    if old == manifest:
        return {**manifest, "out": str(out_dir), "reused": True}
    if out_dir.exists() and any(out_dir.iterdir()):
        raise HardpairsError(
            f"longtail: {out_dir} is not empty and holds no identical build; pass a new --out folder "
            "(or delete this one)"
        )
    for part, rows in links.items():
        for row in rows:
            wnid, path = row.split("\t", 1)
            link = out_dir / part / wnid / Path(path).name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(Path(path).resolve(), link)
    write_json(out_dir / MANIFEST, manifest)  # last: a folder without it is an interrupted build
    return {**manifest, "out": str(out_dir), "reused": False}

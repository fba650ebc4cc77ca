"""A run's embedding map: ``map_for_run`` (``python -m core umap``), cached by the one cache rule.

The map lives in the run folder as ``umap_2d.csv`` / ``umap_3d.csv`` (columns ``index,x,y[,z]``
and, for a subsampled fit, ``fitted``; ``index`` is the training-sample index) with a sidecar
``umap_2d.json`` / ``umap_3d.json``: the ``core.rundir.cache`` record (``params``: the MapConfig
plus the sha1 of the ``include`` ids; ``features_sha1``: the fingerprint of the run's features,
the same key every analysis uses), the sha1 of the CSV and how the map was made (``n``,
``n_fitted``, ``placement``, ``n_total``, ``n_epochs``, ``seconds``, ``created``). One slot per
dimension: other parameters recompute and replace it. A sidecar whose ``csv_sha1`` does not match
the CSV, or one written under an older key meaning, is a miss (recomputed).

Above ``fit_size`` samples UMAP is fitted on a seeded subsample (plus the ids in ``include``) and
the rest are placed from their fitted neighbours (``core.analysis.approx.mapscale``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.embedmap import AXES, FIT_SIZE, MapConfig, layout_map
from core.idsets import unique_ids
from core.io import atomic_write_bytes
from core.rundir.cache import cached
from core.rundir.featurefile import open_features
from core.rundir.folder import require_run
from core.store import array_sha1


@dataclass(frozen=True)
class MapResult:
    """A map with where it lives: ``frame`` (index, x, y[, z][, fitted]), ``path``, ``cached``, ``seconds``."""

    frame: pd.DataFrame
    path: Path
    cached: bool
    seconds: float


def map_paths(run_dir: str | os.PathLike[str], n_components: int) -> tuple[Path, Path]:
    """``(umap_{d}d.csv, umap_{d}d.json)`` inside ``run_dir``."""
    return Path(run_dir) / f"umap_{n_components}d.csv", Path(run_dir) / f"umap_{n_components}d.json"


def _csv_sha1(path: Path) -> str | None:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return None


def run_map(run_dir: str | os.PathLike[str], cfg: MapConfig, include: np.ndarray | None = None) -> MapResult:
    """The run's map for ``cfg``: loaded from the cache when parameters and features match, else computed.

    Args:
        include: sample ids always in the UMAP fit when the map is subsampled (tagged / flagged / selected).

    Raises:
        HardpairsError: not a run folder, no or unreadable features, or parameters UMAP cannot use.
    """
    run = require_run(run_dir)
    csv_path, meta_path = map_paths(run, cfg.n_components)
    inc = None if include is None else unique_ids(include)
    params: dict[str, Any] = asdict(cfg) | {"include_sha1": None if inc is None else array_sha1(inc)}
    start = time.perf_counter()

    def compute() -> dict[str, Any]:
        frame, meta = layout_map(open_features(run)["train"], cfg, inc)
        data = frame.to_csv(index=False, float_format="%.9g").encode()
        atomic_write_bytes(csv_path, data)
        seconds = time.perf_counter() - start
        return meta | {"csv_sha1": hashlib.sha1(data).hexdigest(), "seconds": seconds, "created": time.time()}

    record = cached(
        run,
        meta_path.name,
        params,
        compute,
        outputs=[csv_path.name],
        valid=lambda old: old.get("csv_sha1") == _csv_sha1(csv_path),
    )
    dtypes = {a: np.float32 for a in AXES} | {"index": np.int64}
    frame = pd.read_csv(StringIO(csv_path.read_text()), dtype=dtypes)
    return MapResult(frame, csv_path, bool(record["cached"]), time.perf_counter() - start)


def map_for_run(
    run_dir: str | os.PathLike[str],
    dim: int = 2,
    neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int | None = 0,
    subset: int | None = None,
    epochs: int | None = None,
    fit_size: int | None = FIT_SIZE,
    include: np.ndarray | None = None,
) -> dict[str, Any]:
    """The run's UMAP map -> ``umap_<dim>d.csv`` + ``.json`` (cached; the frame itself: :func:`run_map`).

    Returns:
        ``path, n, n_fitted, cached, seconds, params``.
    """
    cfg = MapConfig(
        n_components=dim,
        n_neighbors=neighbors,
        min_dist=min_dist,
        seed=seed,
        subset=subset,
        n_epochs=epochs,
        fit_size=fit_size,
    )
    print(f"umap: {cfg}", file=sys.stderr, flush=True)
    res = run_map(run_dir, cfg, include)
    fitted = res.frame["fitted"] if "fitted" in res.frame else None
    return {
        "path": str(res.path),
        "n": int(len(res.frame)),
        "n_fitted": int(len(res.frame) if fitted is None else fitted.sum()),
        "cached": res.cached,
        "seconds": round(res.seconds, 3),
        "params": asdict(cfg),
    }

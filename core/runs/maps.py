"""Run-level embedding map: ``map_for_run`` (``python -m core umap``), cached by ``core.analysis.embedmap``.

Above ``fit_size`` samples UMAP is fitted on a seeded subsample (plus the ids in ``include``) and
the rest are placed from their fitted neighbours (``core.analysis.mapscale``); the map file's
``fitted`` column and sidecar (``n_fitted``, ``placement``) say which points were fitted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from core.analysis.embedmap import FIT_SIZE


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
    """The run's UMAP map -> ``umap_<dim>d.csv`` + ``.json`` (cached).

    Returns:
        ``path, n, n_fitted, cached, seconds, params``.
    """
    from core.analysis.embedmap import MapConfig, compute_or_load_map

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
    res = compute_or_load_map(Path(run_dir), cfg, include)
    fitted = res.frame["fitted"] if "fitted" in res.frame else None
    return {
        "path": str(res.path),
        "n": int(len(res.frame)),
        "n_fitted": int(len(res.frame) if fitted is None else fitted.sum()),
        "cached": res.cached,
        "seconds": round(res.seconds, 3),
        "params": asdict(cfg),
    }

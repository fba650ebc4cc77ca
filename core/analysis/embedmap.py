"""Embedding maps: seeded UMAP of (N, D) features on the exact faiss kNN graph -- pure functions over arrays.

:func:`layout_map` lays out a run's training features (subset, subsampled fit + placement) as an
``index, x, y[, z]`` frame; :func:`merge_parent_child` and :func:`align_to_parent` put a pruned
run's map beside its parent's. Reading and caching a run's map (``umap_2d.csv`` + its ``.json``
sidecar, by the one cache rule ``core.rundir.cache``) is ``core.runs.maps``.

Repeatability: ``seed`` is passed to UMAP as ``random_state``, which makes umap-learn optimise
single-threaded; ``seed=None`` gives a faster parallel layout that is not repeatable. The layout
is repeatable only for bit-identical inputs: umap's optimisation is chaotic, so a 1e-7 change of one
kNN similarity (e.g. features normalised twice, or a GPU instead of a CPU kNN) gives a different
(equally valid) picture. The cache is what keeps a presented map stable.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.analysis.approx.mapscale import PLACE_K, PLACE_TAU, scaled_layout, umap_knn
from core.analysis.neighbors import knn, l2_normalise
from core.errors import HardpairsError
from core.idsets import unique_ids

AXES = ("x", "y", "z")
LARGE_N = 20_000
SMALL_EPOCHS = 200
LARGE_EPOCHS = 100
FIT_SIZE = 50_000


@dataclass(frozen=True)
class MapConfig:
    """UMAP parameters. ``n_neighbors`` counts the point itself, as umap-learn does.

    ``subset``: embed a seeded random subset of this many training samples (huge N).
    ``n_epochs``: None = auto: ``SMALL_EPOCHS`` (200) up to ``LARGE_N`` (20k) samples,
    ``LARGE_EPOCHS`` (100) above, so a 50k map stays near 20 s on 2 cores (umap-learn's own
    default would be 500 up to 10k samples and 200 above: 45 s at 50k, bench/umap_scale.py).
    ``fit_size``: above this many samples UMAP is fitted on a seeded subsample of it (plus the
    ``include`` ids of ``layout_map``) and the rest placed by ``core.analysis.approx.mapscale``;
    None = fit on all.
    """

    n_components: int = 2
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "cosine"
    seed: int | None = 0
    subset: int | None = None
    n_epochs: int | None = None
    fit_size: int | None = FIT_SIZE


def _validate(cfg: MapConfig, n: int) -> None:
    if cfg.n_components not in (2, 3):
        raise HardpairsError(f"a map has 2 or 3 dimensions, got {cfg.n_components}; pass --dim 2 or 3.")
    if cfg.metric != "cosine":
        raise HardpairsError(f"only the cosine metric is supported (the kNN graph is cosine), got {cfg.metric!r}.")
    if cfg.n_epochs is not None and cfg.n_epochs < 1:
        raise HardpairsError(f"n_epochs must be >= 1 (or None for auto), got {cfg.n_epochs}.")
    if cfg.n_neighbors < 2 or not 0.0 <= cfg.min_dist <= 1.0:
        raise HardpairsError(f"need --neighbors >= 2 and 0 <= --min-dist <= 1 (got {cfg.n_neighbors}, {cfg.min_dist}).")
    if n <= cfg.n_neighbors:
        raise HardpairsError(
            f"{n} samples are too few for a UMAP with {cfg.n_neighbors} neighbours; "
            "pass a smaller --neighbors or a larger --subset."
        )


def effective_epochs(n: int, cfg: MapConfig) -> int:
    """The ``n_epochs`` passed to umap-learn for ``n`` samples."""
    if cfg.n_epochs is not None:
        return cfg.n_epochs
    return LARGE_EPOCHS if n > LARGE_N else SMALL_EPOCHS


def subset_indices(n: int, cfg: MapConfig) -> np.ndarray:
    """Sorted (K,) int64 indices of the samples to embed: all, or a subset seeded by ``cfg.seed`` (0 if None)."""
    if cfg.subset is None or cfg.subset >= n:
        return np.arange(n, dtype=np.int64)
    if cfg.subset < 1:
        raise HardpairsError(f"--subset must be a positive sample count, got {cfg.subset}.")
    rng = np.random.default_rng(0 if cfg.seed is None else cfg.seed)
    return np.sort(rng.choice(n, cfg.subset, replace=False)).astype(np.int64)


def umap_embedding(
    features: np.ndarray, cfg: MapConfig, knn_graph: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """UMAP layout of ``features`` (cosine) on an exact kNN graph.

    Args:
        features: (N, D) float features (any scale; L2-normalised here).
        cfg: map parameters; ``cfg.subset`` is ignored here (see ``subset_indices``).
        knn_graph: optional ``(sims (N, k), idx (N, k))`` as returned by ``core.analysis.neighbors.knn``
            on these same rows, k >= n_neighbors - 1; computed with it when None.

    Returns:
        (N, n_components) float32 coordinates; identical for identical inputs when ``cfg.seed`` is set.
    """
    x = l2_normalise(features)
    _validate(cfg, x.shape[0])
    if knn_graph is None:
        knn_graph = knn(x, cfg.n_neighbors - 1, exclude_self=True)
    sims, idx = knn_graph
    if np.asarray(idx).shape[0] != x.shape[0]:
        raise HardpairsError(
            f"the kNN graph has {np.asarray(idx).shape[0]} rows for {x.shape[0]} samples; "
            "compute it on the same (subset of) features."
        )
    knn_idx, knn_dist = umap_knn(sims, idx, cfg.n_neighbors)
    import umap  # deferred: importing umap-learn compiles numba code (seconds)

    reducer = umap.UMAP(
        n_neighbors=cfg.n_neighbors,
        n_components=cfg.n_components,
        min_dist=cfg.min_dist,
        metric="cosine",
        random_state=cfg.seed,
        n_epochs=effective_epochs(x.shape[0], cfg),
        precomputed_knn=(knn_idx, knn_dist),
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(knn_search_index|n_jobs|random_state).*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        coords = reducer.fit_transform(x)
    return np.asarray(coords, dtype=np.float32)


def layout_map(
    train: np.ndarray, cfg: MapConfig, include: np.ndarray | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The map of ``train`` for ``cfg``: the frame and what to record about how it was made.

    Args:
        train: (N, D) float training features (any scale; memory-mapped is fine).
        cfg: map parameters (``cfg.subset`` picks the rows, ``cfg.fit_size`` the fitted share).
        include: (K,) int sample ids always in the UMAP fit when the fit is subsampled.

    Returns:
        ``(frame, meta)``: ``frame`` has ``index`` (int64), ``x, y[, z]`` (float32) and, when the fit
        was subsampled, ``fitted`` (int8: 1 = laid out by UMAP, 0 = placed from its fitted
        neighbours); ``meta`` holds ``n, n_fitted, placement, n_total, n_epochs``.
    """
    inc = None if include is None else unique_ids(include)
    index = subset_indices(train.shape[0], cfg)
    coords, fitted = scaled_layout(
        train, index, cfg.fit_size, lambda xn: umap_embedding(xn, cfg), inc, 0 if cfg.seed is None else cfg.seed
    )
    frame = pd.DataFrame({"index": index} | {a: coords[:, i] for i, a in enumerate(AXES[: cfg.n_components])})
    if not fitted.all():  # only a subsampled fit has placed points (small maps keep index,x,y)
        frame["fitted"] = fitted.astype(np.int8)
    placement = None if fitted.all() else f"k={PLACE_K} fitted neighbours, weights exp((s - s1) / {PLACE_TAU})"
    meta = {
        "n": int(index.size),
        "n_fitted": int(fitted.sum()),
        "placement": placement,
        "n_total": int(train.shape[0]),
        "n_epochs": effective_epochs(int(fitted.sum()), cfg),
    }
    return frame, meta


def align_to_parent(child_xy: np.ndarray, parent_xy: np.ndarray) -> np.ndarray:
    """Similarity-Procrustes align a map to a reference (rotation/reflection, uniform scale, shift).

    Args:
        child_xy: (N, d) coordinates to move.
        parent_xy: (N, d) reference coordinates of the same N samples, same order.

    Returns:
        (N, d) float32: ``s * (child - mean_c) @ R + mean_p`` minimising the squared distance to parent.
    """
    c, p = np.asarray(child_xy, np.float64), np.asarray(parent_xy, np.float64)
    if c.shape != p.shape or c.ndim != 2:
        raise HardpairsError(f"maps to align must have the same (N, d) shape, got {c.shape} and {p.shape}.")
    c0, p0 = c - c.mean(0), p - p.mean(0)
    u, s, vt = np.linalg.svd(c0.T @ p0)
    norm = float((c0**2).sum())
    scale = float(s.sum()) / norm if norm > 0 else 1.0
    return np.asarray(scale * c0 @ (u @ vt) + p.mean(0), dtype=np.float32)


def merge_parent_child(
    parent: pd.DataFrame, child: pd.DataFrame, keep: np.ndarray, dim: int = 2, align: bool = True
) -> pd.DataFrame:
    """Two maps (``index, x, y[, z]`` frames) on their common samples, plus ``kept``.

    Args:
        parent, child: the parent's and the pruned child's maps.
        keep: (K,) int sample ids the child trained on.
        dim: 2 or 3 map axes.
        align: Procrustes-align the child's coordinates to the parent's.

    Returns:
        DataFrame ``index, x_parent, y_parent[, z_parent], x_child, y_child[, z_child], kept``.
    """
    both = parent.merge(child, on="index", suffixes=("_parent", "_child"))
    axes = list(AXES[:dim])
    if align and len(both) > dim:
        both[[f"{a}_child" for a in axes]] = align_to_parent(
            both[[f"{a}_child" for a in axes]].to_numpy(), both[[f"{a}_parent" for a in axes]].to_numpy()
        )
    both["kept"] = np.isin(both["index"].to_numpy(), keep)
    return both

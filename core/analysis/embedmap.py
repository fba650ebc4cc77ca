"""Embedding maps: seeded UMAP of a run's features on the exact faiss kNN graph, cached per run.

A map is cached in the run folder as ``umap_2d.csv`` / ``umap_3d.csv`` (columns
``index,x,y[,z]``; ``index`` is the training-sample index) with a sidecar ``umap_2d.json`` /
``umap_3d.json`` holding the MapConfig, the sha1 of the training features (so a new checkpoint's
features invalidate it), the sha1 of the CSV and the compute time. One cache slot per dimension:
other parameters recompute and replace it. Both files are written atomically, CSV first; a
sidecar whose ``csv_sha1`` does not match the CSV is treated as a miss.

Repeatability: ``seed`` is passed to UMAP as ``random_state``, which makes umap-learn optimise
single-threaded; ``seed=None`` gives a faster parallel layout that is not repeatable. The layout
is repeatable only for bit-identical inputs: umap's optimisation is chaotic, so a 1e-7 change of one
kNN similarity (e.g. features normalised twice, or a GPU instead of a CPU kNN) gives a different
(equally valid) picture. The cache is what keeps a presented map stable.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from core.analysis.mapscale import PLACE_K, PLACE_TAU, scaled_layout, umap_knn
from core.analysis.neighbors import knn, l2_normalise
from core.errors import HardpairsError
from core.idsets import unique_ids
from core.io import map_npz, read_json
from core.rundir.folder import require_features, require_run
from core.store import array_sha1 as features_sha1
from core.store import read_verified, write_verified

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
    ``include`` ids of ``compute_or_load_map``) and the rest placed by ``core.analysis.mapscale``;
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


@dataclass(frozen=True)
class MapResult:
    """A map with where it lives: ``frame`` (index, x, y[, z]), ``path``, ``cached``, ``seconds``."""

    frame: pd.DataFrame
    path: Path
    cached: bool
    seconds: float


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


def map_paths(run_dir: str | Path, n_components: int) -> tuple[Path, Path]:
    """``(umap_{d}d.csv, umap_{d}d.json)`` inside ``run_dir``."""
    return Path(run_dir) / f"umap_{n_components}d.csv", Path(run_dir) / f"umap_{n_components}d.json"


def compute_or_load_map(run_dir: str | Path, cfg: MapConfig, include: np.ndarray | None = None) -> MapResult:
    """The run's map for ``cfg``: loaded from the cache when parameters and features match, else computed.

    Args:
        include: sample ids always in the UMAP fit when the map is subsampled (tagged / flagged / selected).

    Returns:
        MapResult; ``frame`` has ``index`` (int64), ``x, y[, z]`` (float32) and, when the fit was
        subsampled, ``fitted`` (int8: 1 = laid out by UMAP, 0 = placed from its fitted neighbours).
    """
    run = require_run(run_dir)
    train = map_npz(require_features(run), ("train",), f"re-extract it with `python -m core probe --run-dir {run}`")[
        "train"
    ]
    csv_path, meta_path = map_paths(run, cfg.n_components)
    params, sha1 = asdict(cfg), features_sha1(train)
    inc = None if include is None else unique_ids(include)
    key = {"params": params, "features_sha1": sha1} | ({} if inc is None else {"include_sha1": features_sha1(inc)})
    start = time.perf_counter()
    cached = read_verified(csv_path, meta_path, key, sha1_key="csv_sha1")
    if cached is not None:
        dtypes = {a: np.float32 for a in AXES} | {"index": np.int64}
        return MapResult(
            pd.read_csv(StringIO(cached.decode()), dtype=dtypes), csv_path, True, time.perf_counter() - start
        )
    index = subset_indices(train.shape[0], cfg)
    coords, fitted = scaled_layout(
        train, index, cfg.fit_size, lambda xn: umap_embedding(xn, cfg), inc, 0 if cfg.seed is None else cfg.seed
    )
    frame = pd.DataFrame({"index": index} | {a: coords[:, i] for i, a in enumerate(AXES[: cfg.n_components])})
    if not fitted.all():  # only a subsampled fit has placed points (small maps keep index,x,y)
        frame["fitted"] = fitted.astype(np.int8)
    data = frame.to_csv(index=False, float_format="%.9g").encode()
    seconds = time.perf_counter() - start
    write_verified(
        csv_path,
        meta_path,
        data,
        key
        | {
            "n": int(index.size),
            "n_fitted": int(fitted.sum()),
            "placement": None
            if fitted.all()
            else f"k={PLACE_K} fitted neighbours, weights exp((s - s1) / {PLACE_TAU})",
            "n_total": int(train.shape[0]),
            "seconds": seconds,
            "n_epochs": effective_epochs(int(fitted.sum()), cfg),
            "created": time.time(),
        },
        sha1_key="csv_sha1",
    )
    return MapResult(frame, csv_path, False, seconds)


def map_for_run(run_dir: str | Path, cfg: MapConfig) -> pd.DataFrame:
    """Compute-or-load the cached map of a run: DataFrame ``index, x, y[, z]``."""
    return compute_or_load_map(run_dir, cfg).frame


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


def _parent_dir(child: Path, parent: str) -> Path:
    for cand in (Path(parent), child.parent / parent):
        if (cand / "config.json").exists():
            return cand
    raise HardpairsError(
        f"the parent run {parent!r} of {child} was not found next to it; "
        "restore the parent run folder or open the child's map alone."
    )


def parent_child_maps(child_run_dir: str | Path, cfg: MapConfig, align: bool = True) -> pd.DataFrame:
    """A pruned run's map beside its parent's, on the samples both maps contain.

    Returns:
        DataFrame ``index, x_parent, y_parent[, z_parent], x_child, y_child[, z_child], kept`` where
        ``kept`` (bool) says the sample is in the child's ``keep.npy``; child coordinates are
        Procrustes-aligned to the parent's when ``align``.
    """
    child = require_run(child_run_dir)
    parent = (read_json(child / "manifest.json", {}) or {}).get("parent")
    keep_path = child / "keep.npy"
    if not parent or not keep_path.exists():
        raise HardpairsError(
            f"{child} is not a pruned run (no parent in manifest.json or no keep.npy); "
            "make one with `python -m core prune --run-dir R --score S --ratio F --train`."
        )
    pmap = map_for_run(_parent_dir(child, str(parent)), cfg)
    cmap = map_for_run(child, cfg)
    return merge_parent_child(pmap, cmap, np.load(keep_path), cfg.n_components, align)


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

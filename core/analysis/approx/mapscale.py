"""A map of a million points: UMAP fitted on a subsample, the rest placed by its fitted neighbours.

UMAP's cost grows with N (kNN graph + epochs over all edges), and umap-learn's ``transform`` needs
the search index that a precomputed kNN graph does not build. So above ``MapConfig.fit_size``
samples (default 50,000):

- ``fit_indices``: the fitted points are a seeded random subsample of ``fit_size`` samples plus
  every sample in ``include`` (tagged, flagged or selected points are always fitted exactly).
- ``place_by_neighbours``: every other sample is placed at the similarity-weighted mean of the map
  coordinates of its ``k`` most similar fitted samples (cosine, faiss IVF over the fitted rows:
  4 sqrt(F) cells, ``nprobe`` 16), weights ``exp((s_j - s_1) / tau)``, tau = 0.02. A sample between
  two clusters lands between them, as it should; measured cost at 1M in BENCHMARKS.md.

The map CSV then carries a ``fitted`` column (only when some points were placed) (1 = laid out by UMAP, 0 = placed).
"""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from core.analysis.approx.ivf import train_quantizer
from core.analysis.neighbors import l2_normalise
from core.errors import HardpairsError
from core.idsets import union_ids, unique_ids

PLACE_K = 5
PLACE_TAU = 0.02
PLACE_NPROBE = 16
_BLOCK = 65_536


def umap_knn(sims: np.ndarray, idx: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn a cosine kNN graph into umap-learn's precomputed form.

    Args:
        sims: (N, k) float cosine similarities, descending per row.
        idx: (N, k) int neighbour indices, with or without the point itself first.
        n_neighbors: neighbours umap uses, self included.

    Returns:
        (indices (N, n_neighbors) int64 with self first, distances (N, n_neighbors) float32 = 1 - sim).
    """
    idx = np.asarray(idx, dtype=np.int64)
    sims = np.asarray(sims, dtype=np.float32)
    n = idx.shape[0]
    if not np.array_equal(idx[:, 0], np.arange(n)):
        idx = np.concatenate([np.arange(n, dtype=np.int64)[:, None], idx], axis=1)
        sims = np.concatenate([np.ones((n, 1), np.float32), sims], axis=1)
    if idx.shape[1] < n_neighbors:
        raise HardpairsError(
            f"the kNN graph has {idx.shape[1]} neighbours (self included) but UMAP needs "
            f"{n_neighbors}; compute it with k >= {n_neighbors - 1}."
        )
    dists = np.clip(1.0 - sims[:, :n_neighbors], 0.0, 2.0)
    dists[:, 0] = 0.0
    return np.ascontiguousarray(idx[:, :n_neighbors]), np.ascontiguousarray(dists, dtype=np.float32)


def fit_indices(n: int, fit_size: int | None, include: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Sorted (F,) int64 ids of the samples UMAP is fitted on: all (``fit_size`` None or >= n), else a
    seeded subsample of ``fit_size`` plus every id of ``include``."""
    if fit_size is None or fit_size >= n:
        return np.arange(n, dtype=np.int64)
    if fit_size < 2:
        raise HardpairsError(f"--fit-size must be at least 2 samples, got {fit_size}")
    extra = unique_ids(include if include is not None else [])
    if len(extra) and (extra.min() < 0 or extra.max() >= n):
        raise HardpairsError(f"--fit-include ids must lie in 0..{n - 1}; the file names id {int(extra.max())}")
    rng = np.random.default_rng(seed)
    base = rng.choice(n, fit_size, replace=False)
    return union_ids(base, extra)


def place_by_neighbours(
    xn_fit: np.ndarray, coords_fit: np.ndarray, features: np.ndarray, rows: np.ndarray, k: int = PLACE_K
) -> np.ndarray:
    """Coordinates of the samples ``rows`` from their k most similar fitted rows.

    Args:
        xn_fit: (F, D) float32 unit rows that were fitted. coords_fit: (F, c) float32 their map.
        features: (N, D) raw features (may be a memory map: read and normalised in blocks).
        rows: (R,) int64 ids into ``features`` to place.

    Returns:
        (R, c) float32.
    """
    f, d = xn_fit.shape
    k = min(k, f)
    fit = np.ascontiguousarray(xn_fit, dtype=np.float32)
    index: faiss.Index
    if f > 4096:
        nlist = int(max(16, min(4 * np.sqrt(f), f // 39)))
        index = faiss.IndexIVFFlat(train_quantizer(fit, nlist), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.add(fit)
        index.nprobe = PLACE_NPROBE
    else:
        index = faiss.IndexFlatIP(d)
        index.add(fit)
    out = np.empty((len(rows), coords_fit.shape[1]), np.float32)
    for start in range(0, len(rows), _BLOCK):
        q = l2_normalise(features[rows[start : start + _BLOCK]])
        sims, idx = index.search(q, k)
        ok = idx >= 0
        w = np.where(ok, np.exp((sims - sims[:, :1]) / PLACE_TAU), 0.0).astype(np.float32)
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
        out[start : start + len(q)] = np.einsum("qk,qkc->qc", w, coords_fit[np.where(ok, idx, 0)])
    return out


def scaled_layout(
    features: np.ndarray,
    index: np.ndarray,
    fit_size: int | None,
    embed: Callable[[np.ndarray], np.ndarray],
    include: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Map of the samples ``index`` (K,): ``embed`` (UMAP) on the fitted ones, the rest placed.

    Args:
        features: (N, D) raw features (memory map welcome). index: (K,) sorted sample ids to map.
        embed: (F, D) raw feature rows -> (F, c) float32 coordinates (UMAP normalises them itself).
        include: sample ids always fitted.

    Returns:
        (coords (K, c) float32, fitted (K,) bool).
    """
    inc = None if include is None else np.flatnonzero(np.isin(index, np.asarray(include, np.int64)))
    pos = fit_indices(len(index), fit_size, inc, seed)
    fitted = np.zeros(len(index), bool)
    fitted[pos] = True
    raw_fit = np.asarray(features[index[pos]])
    coords_fit = embed(raw_fit)  # raw rows: normalising twice changes UMAP's (chaotic) layout
    if len(pos) == len(index):
        return coords_fit, fitted
    xn_fit = l2_normalise(raw_fit)
    coords = np.empty((len(index), coords_fit.shape[1]), np.float32)
    coords[pos] = coords_fit
    coords[~fitted] = place_by_neighbours(xn_fit, coords_fit, features, index[~fitted])
    return coords, fitted

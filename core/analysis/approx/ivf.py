"""Approximate same-class / other-class kNN graph for large N: screen in a low-dimensional space, rerank exactly.

The exact ``core.analysis.neighbors.class_split_knn`` is the reference; ``ScreenIndex.search_rows``
gives the same output format (``same_sims``, ``other_sims`` (m, k) float32 descending, exact cosines;
``same_idx``, ``other_idx`` (m, k) int64 global ids; ``-inf`` / -1 padding) for N in the millions.

Method, for unit rows ``xn`` (N, D) with class labels:

1. Screening space: ``z = xn V`` (N, d') with V the top d' right singular vectors of a seeded sample
   of at most ``TRAIN_CAP`` rows (uncentred, so inner products are what is kept); d' = D means no
   projection. Encoder features have a low intrinsic dimension; ``core.analysis.approx.graphtune`` doubles
   d' until the screening alone keeps the exact neighbours of sampled queries.
2. Cells: spherical k-means in z (``nlist`` = 2 sqrt(N), ``KMEANS_ITER`` iterations). Samples are
   grouped by (cell, class); the groups are the inverted lists of a faiss IVF index holding z in
   float16 (``IndexIVFScalarQuantizer`` QT_fp16, scanned with SIMD), and each group has a unit mean.
3. Per query and per side, the groups of its own class (same) or of the other classes (other) are
   ranked by the similarity of its z to their means; the ``probe_same`` / ``probe_other`` best are
   scanned (``search_preassigned``) for the ``RERANK * k`` most similar samples in z.
4. Those candidates are reranked with exact cosines in the full space (faiss
   ``fvec_inner_products_by_idx``, no copy of the rows); the query itself is dropped; k are kept.

Ranking *class groups* rather than cells matters: a sample's nearest other-class samples sit in cells
its own class dominates, so a plain IVF filtered by label probes cells with almost no candidates
(measured other-class recall 0.25 at nprobe 32 on 200k samples). Ranking per *query* rather than per
block of queries matters too: measured at 200k, the other side needed 512 groups ranked by the
block's mean for recall 0.97 but 128-256 ranked per query.

Queries run in chunks of one class on ``threads`` Python threads, with faiss's OpenMP and BLAS set
to one thread each (the chunks are small; measured 2.3x faster than faiss's own threading here).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faiss
import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from core.analysis.neighbors import group_sums

TRAIN_CAP = 65_536
KMEANS_ITER = 10
#: screened candidates per side and query, as a multiple of k, reranked exactly
RERANK = 2
CHUNK = 2048
BLOCK = 65_536


def ivf_nlist(n: int) -> int:
    """Default number of cells for N rows: 2 sqrt(N) (894 at 200k, 2,000 at 1M), at least 16, at most N // 39.

    Measured at 200k (structured benchmark data, recall >= 0.95 reached on both sides): 450 / 900 /
    1,800 / 3,600 cells took 25.8 / 21.2 / 28.6 / 34.9 s for the whole tuned graph. Fewer, larger
    groups cost more to scan; more, smaller ones cost more to rank.
    """
    return int(max(16, min(2 * math.sqrt(n), n // 39 if n >= 39 * 16 else 16)))


def _sample(x: np.ndarray, seed: int) -> np.ndarray:
    """A seeded sample of at most ``TRAIN_CAP`` rows of ``x`` (all when smaller), float32 (s, D)."""
    n = len(x)
    rows = np.arange(n) if n <= TRAIN_CAP else np.sort(np.random.default_rng(seed).choice(n, TRAIN_CAP, replace=False))
    return np.ascontiguousarray(x[rows], dtype=np.float32)


def train_quantizer(xn: np.ndarray, nlist: int, seed: int = 0) -> faiss.IndexFlatIP:
    """Spherical k-means cells: a flat inner-product index holding ``nlist`` unit centroids (nlist, D)."""
    d = xn.shape[1]
    km = faiss.Kmeans(
        d, nlist, niter=KMEANS_ITER, seed=int(seed), spherical=True, verbose=False, min_points_per_centroid=16
    )
    km.train(_sample(xn, seed))
    quantizer = faiss.IndexFlatIP(d)
    quantizer.add(np.ascontiguousarray(km.centroids, dtype=np.float32))
    return quantizer


def screening_basis(xn: np.ndarray, dims: int, seed: int = 0) -> np.ndarray | None:
    """(D, dims) float32 top right singular vectors of a seeded sample (uncentred), None when dims >= D.

    They are the top eigenvectors of the sample's (D, D) Gram matrix, computed in float64.
    """
    if dims >= xn.shape[1]:
        return None
    s = _sample(xn, seed).astype(np.float64)
    _, vecs = np.linalg.eigh(s.T @ s)  # ascending eigenvalues
    return np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ScreenIndex:
    """Same/other-class top-k by screening in z and exact reranking (see the module docstring).

    Args:
        xn: (N, D) float32 unit rows, C-contiguous (a memory map is fine). labels: (N,) int class ids.
        dims: screening dimensions d' (>= D: none). nlist: cells (None = ``ivf_nlist(N)``). seed.
    """

    def __init__(self, xn: np.ndarray, labels: np.ndarray, dims: int, nlist: int | None = None, seed: int = 0) -> None:
        if xn.dtype != np.float32 or not xn.flags["C_CONTIGUOUS"]:
            xn = np.ascontiguousarray(xn, dtype=np.float32)
        self.xn, n = xn, len(xn)
        basis = screening_basis(xn, dims, seed)
        self.dims = xn.shape[1] if basis is None else basis.shape[1]
        self.z = np.empty((n, self.dims), np.float32)
        for a in range(0, n, BLOCK):
            part = np.asarray(xn[a : a + BLOCK], dtype=np.float32)
            self.z[a : a + len(part)] = part if basis is None else part @ basis
        self.nlist = nlist or ivf_nlist(n)
        quantizer = train_quantizer(self.z, self.nlist, seed)
        cell = np.concatenate([quantizer.search(self.z[a : a + BLOCK], 1)[1][:, 0] for a in range(0, n, BLOCK)])
        classes, lab = np.unique(np.asarray(labels, np.int64), return_inverse=True)
        self.lab, n_cls = lab.astype(np.int64), len(classes)
        group_key, group = np.unique(cell * n_cls + self.lab, return_inverse=True)
        self.group_cls = group_key % n_cls
        self.centres = self._unit_means(group.astype(np.int64), len(group_key))
        self.ivf = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(self.dims),
            self.dims,
            len(group_key),
            faiss.ScalarQuantizer.QT_fp16,
            faiss.METRIC_INNER_PRODUCT,
            False,
        )
        self.ivf.is_trained = True  # lists are assigned by hand; fp16 needs no training
        ids, assign = np.arange(n, dtype=np.int64), group.astype(np.int64)
        self.ivf.add_core(n, faiss.swig_ptr(self.z), faiss.swig_ptr(ids), faiss.swig_ptr(assign))

    @property
    def groups(self) -> int:
        """Number of non-empty (cell, class) groups G (an upper bound for any probe)."""
        return len(self.group_cls)

    def _unit_means(self, group: np.ndarray, g: int) -> np.ndarray:
        """(G, d') float32 unit mean of z over each group."""
        sums = group_sums(self.z, group, g)
        sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(sums, dtype=np.float32)

    def _side(self, rows: np.ndarray, cls: int, k: int, probe: int, same: bool) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (sims, ids) of ``rows`` (m,), all of class ``cls``, on one side. (m, k) each."""
        m = len(rows)
        sims, idx = np.full((m, k), -np.inf, np.float32), np.full((m, k), -1, np.int64)
        pool = np.flatnonzero((self.group_cls == cls) if same else (self.group_cls != cls))
        p = min(probe, len(pool))
        if p == 0:
            return sims, idx
        zq = np.ascontiguousarray(self.z[rows])
        _, rank = faiss.knn(zq, np.ascontiguousarray(self.centres[pool]), p, metric=faiss.METRIC_INNER_PRODUCT)
        lists = np.ascontiguousarray(pool[rank], dtype=np.int64)
        kk = RERANK * k + 1  # + 1: the query itself may be screened in
        # every array handed to faiss as a pointer is bound to a name: a temporary would be freed first
        coarse, dz, cand = np.zeros((m, p), np.float32), np.empty((m, kk), np.float32), np.empty((m, kk), np.int64)
        params = faiss.SearchParametersIVF()
        params.nprobe = p
        self.ivf.search_preassigned_c(  # type: ignore[attr-defined]  # not in faiss's stubs
            m,
            faiss.swig_ptr(zq),
            kk,
            faiss.swig_ptr(lists),
            faiss.swig_ptr(coarse),
            faiss.swig_ptr(dz),
            faiss.swig_ptr(cand),
            False,
            params,
        )
        xq = np.ascontiguousarray(self.xn[rows], dtype=np.float32)
        exact = np.empty((m, kk), np.float32)  # -inf where cand is -1
        faiss.fvec_inner_products_by_idx(  # type: ignore[attr-defined]
            faiss.swig_ptr(exact),
            faiss.swig_ptr(xq),
            faiss.swig_ptr(self.xn),
            faiss.swig_ptr(cand),
            self.xn.shape[1],
            m,
            kk,
        )
        exact[cand == rows[:, None]] = -np.inf
        keep = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        sims[:, : keep.shape[1]] = np.take_along_axis(exact, keep, axis=1)
        idx[:, : keep.shape[1]] = np.take_along_axis(cand, keep, axis=1)
        idx[~np.isfinite(sims)] = -1
        return sims, idx

    def search_rows(self, rows: np.ndarray, k: int, probe_same: int, probe_other: int) -> dict[str, np.ndarray]:
        """Same/other-class top-k of the samples ``rows`` (m,) (format of ``class_split_knn``)."""
        rows = np.asarray(rows, np.int64)
        out = {s: np.full((len(rows), k), -np.inf, np.float32) for s in ("same_sims", "other_sims")}
        out.update({s: np.full((len(rows), k), -1, np.int64) for s in ("same_idx", "other_idx")})
        order = np.argsort(self.lab[rows], kind="stable")
        cls_sorted = self.lab[rows][order]
        tasks = []
        for c in np.unique(cls_sorted):
            lo, hi = np.searchsorted(cls_sorted, [c, c + 1])
            tasks += [order[a : min(a + CHUNK, hi)] for a in range(lo, hi, CHUNK)]

        def work(pos: np.ndarray) -> None:
            cls = int(self.lab[rows[pos[0]]])
            for side, same, probe in (("same", True, probe_same), ("other", False, probe_other)):
                out[f"{side}_sims"][pos], out[f"{side}_idx"][pos] = self._side(rows[pos], cls, k, probe, same)

        omp = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(_threads()) as pool:
                list(pool.map(work, tasks))
        finally:
            faiss.omp_set_num_threads(omp)
        return out

    def describe(self) -> dict[str, Any]:
        """The index's shape for the run's records."""
        return {"dims": self.dims, "nlist": self.nlist, "groups": self.groups, "rerank": RERANK}

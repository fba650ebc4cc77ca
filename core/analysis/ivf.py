"""Approximate same-class / other-class kNN graph for large N: faiss IVF with one shared quantizer.

The exact ``core.analysis.neighbors.class_split_knn`` is the reference; this module gives the same
output format (``same_sims``, ``other_sims`` (N, k) float32 descending, ``same_idx``, ``other_idx``
(N, k) int64 global ids, ``-inf`` / -1 padding) for N in the millions.

Method. One spherical k-means quantizer (``nlist`` = 4 * sqrt(N) centroids by default, trained on a
seeded sample of at most ``TRAIN_CAP`` rows, 10 iterations) is shared by one ``IndexIVFFlat``
(inner product on unit rows = cosine) per class, so every class has its own inverted lists over
the same cells. A query's centroids are ranked once (top ``T`` cells); for each class b the query
probes the ``nprobe`` best-ranked cells whose class-b list is not empty (``search_preassigned``).
Probing only non-empty cells matters: a sample's other-class neighbours sit in cells that its own
class dominates, so a shared index filtered by label would probe cells with no candidates (its
measured recall on the other-class side was below 0.2 at nprobe 32). Same-class lists are merged
per query with a running top-k.

``graph_recall`` measures recall@k against the exact lists on a seeded sample of queries;
``tuned_class_split_knn`` raises ``nprobe`` until that recall reaches the target.
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

TRAIN_CAP = 65_536
KMEANS_ITER = 10


def ivf_nlist(n: int) -> int:
    """Default number of IVF cells for N rows: 4 * sqrt(N), at least 16 and at most N // 39."""
    return int(max(16, min(4 * math.sqrt(n), n // 39 if n >= 39 * 16 else 16)))


def train_quantizer(xn: np.ndarray, nlist: int, seed: int = 0) -> faiss.IndexFlatIP:
    """Spherical k-means cells: a flat inner-product index holding ``nlist`` unit centroids (nlist, D)."""
    n, d = xn.shape
    rng = np.random.default_rng(seed)
    sample = xn if n <= TRAIN_CAP else xn[np.sort(rng.choice(n, TRAIN_CAP, replace=False))]
    km = faiss.Kmeans(
        d, nlist, niter=KMEANS_ITER, seed=int(seed), spherical=True, verbose=False, min_points_per_centroid=16
    )
    km.train(np.ascontiguousarray(sample, dtype=np.float32))
    quantizer = faiss.IndexFlatIP(d)
    quantizer.add(np.ascontiguousarray(km.centroids, dtype=np.float32))
    return quantizer


class ClassIVF:
    """Per-class IVF lists over one shared quantizer (see the module docstring).

    Args:
        xn: (N, D) float32 unit rows (may be a memory map). labels: (N,) int64 class ids.
        nlist: cells (None = ``ivf_nlist(N)``). seed: k-means seed.
    """

    def __init__(self, xn: np.ndarray, labels: np.ndarray, nlist: int | None = None, seed: int = 0) -> None:
        self.xn, self.labels = xn, np.asarray(labels, np.int64)
        self.nlist = nlist or ivf_nlist(len(xn))
        self.quantizer = train_quantizer(xn, self.nlist, seed)
        self.classes = np.unique(self.labels)
        self.members = {int(c): np.flatnonzero(self.labels == c) for c in self.classes}
        self.indexes: dict[int, faiss.IndexIVFFlat] = {}
        self.nonempty = np.zeros((len(self.classes), self.nlist), bool)
        for pos, c in enumerate(self.classes):
            index = faiss.IndexIVFFlat(self.quantizer, xn.shape[1], self.nlist, faiss.METRIC_INNER_PRODUCT)
            ids = self.members[int(c)]
            for start in range(0, len(ids), 65_536):
                part = ids[start : start + 65_536]
                index.add_with_ids(np.ascontiguousarray(xn[part], dtype=np.float32), part)
            sizes = np.array([index.invlists.list_size(i) for i in range(self.nlist)])
            self.nonempty[pos] = sizes > 0
            self.indexes[int(c)] = index

    def _probe(self, cells: np.ndarray, sims: np.ndarray, pos: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``nprobe`` cells of each row (ranked (q, T)) with a non-empty list of class ``pos``."""
        valid = self.nonempty[pos][cells]
        order = np.argsort(~valid, axis=1, kind="stable")[:, :nprobe]
        chosen = np.take_along_axis(cells, order, axis=1)
        dist = np.take_along_axis(sims, order, axis=1)
        ok = np.take_along_axis(valid, order, axis=1)
        return np.where(ok, chosen, -1).astype(np.int64), np.where(ok, dist, -np.inf).astype(np.float32)

    def search(self, q: np.ndarray, qid: np.ndarray, own: np.ndarray, k: int, nprobe: int) -> dict[str, np.ndarray]:
        """Same/other-class top-k of queries ``q`` (m, D) unit rows with ids ``qid`` and labels ``own``.

        Returns:
            dict of (m, k) arrays as ``class_split_knn`` (global ids; self excluded from ``same``).
        """
        m = len(q)
        top = min(self.nlist, 2 * self.nlist // max(len(self.classes), 1) + 8 * nprobe)
        csims, cells = self.quantizer.search(q, top)
        out = {s: np.full((m, k), -np.inf, np.float32) for s in ("same_sims", "other_sims")}
        out.update({s: np.full((m, k), -1, np.int64) for s in ("same_idx", "other_idx")})
        for pos, c in enumerate(self.classes):
            index = self.indexes[int(c)]
            index.nprobe = nprobe
            assign, dist = self._probe(cells, csims, pos, nprobe)
            d, i = index.search_preassigned(q, k + 1, assign, dist)
            mine = own == c
            d = np.where(i == qid[:, None], -np.inf, d)  # self is never its own neighbour
            i = np.where(i == qid[:, None], -1, i)
            for side, rows in (("same", mine), ("other", ~mine)):
                if rows.any():
                    s_old, i_old = out[f"{side}_sims"][rows], out[f"{side}_idx"][rows]
                    cand_s = np.concatenate([s_old, d[rows]], axis=1)
                    cand_i = np.concatenate([i_old, i[rows]], axis=1)
                    keep = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
                    out[f"{side}_sims"][rows] = np.take_along_axis(cand_s, keep, axis=1)
                    out[f"{side}_idx"][rows] = np.take_along_axis(cand_i, keep, axis=1)
        for side in ("same", "other"):  # missing neighbours: -1 ids with sim -inf
            out[f"{side}_idx"][~np.isfinite(out[f"{side}_sims"])] = -1
        return out

    def graph(self, k: int, nprobe: int, block: int = 16_384) -> dict[str, np.ndarray]:
        """The whole graph: every row queried, in blocks (format of ``class_split_knn``)."""
        n = len(self.xn)
        out = {s: np.empty((n, k), np.float32) for s in ("same_sims", "other_sims")}
        out.update({s: np.empty((n, k), np.int64) for s in ("same_idx", "other_idx")})
        for start in range(0, n, block):
            ids = np.arange(start, min(start + block, n))
            q = np.ascontiguousarray(self.xn[start : start + len(ids)], dtype=np.float32)
            part = self.search(q, ids, self.labels[ids], k, nprobe)
            for key, val in part.items():
                out[key][start : start + len(ids)] = val
        return out


def exact_rows(
    xn: np.ndarray, labels: np.ndarray, rows: np.ndarray, k: int, block: int = 65_536
) -> dict[str, np.ndarray]:
    """Exact same/other-class top-k of the samples ``rows`` (m,) by brute force over all N (blockwise).

    Returns:
        dict ``same_idx``, ``other_idx`` (m, k) int64 and ``same_sims``, ``other_sims`` (m, k) float32.
    """
    labels = np.asarray(labels, np.int64)
    q = np.ascontiguousarray(xn[rows], dtype=np.float32)
    best = {
        side: (np.full((len(rows), k), -np.inf, np.float32), np.full((len(rows), k), -1, np.int64))
        for side in ("same", "other")
    }
    for start in range(0, len(xn), block):
        ids = np.arange(start, min(start + block, len(xn)))
        s = q @ np.asarray(xn[start : start + len(ids)], dtype=np.float32).T
        s[rows[:, None] == ids[None, :]] = -np.inf
        same = labels[rows][:, None] == labels[ids][None, :]
        for side, mask in (("same", same), ("other", ~same)):
            cs = np.concatenate([best[side][0], np.where(mask, s, -np.inf)], axis=1)
            ci = np.concatenate([best[side][1], np.broadcast_to(ids, s.shape)], axis=1)
            keep = np.argsort(-cs, axis=1, kind="stable")[:, :k]
            best[side] = (np.take_along_axis(cs, keep, axis=1), np.take_along_axis(ci, keep, axis=1))
    return {f"{side}_{what}": best[side][j] for side in best for j, what in ((0, "sims"), (1, "idx"))}


def graph_recall(approx: dict[str, np.ndarray], exact: dict[str, np.ndarray], rows: np.ndarray | None = None) -> float:
    """Mean recall@k of the approximate lists against the exact ones (both sides, real neighbours only).

    Args:
        approx: graph over all N (or over ``rows`` only when ``rows`` is None). exact: lists of ``rows``.
    """
    hits = total = 0
    for side in ("same", "other"):
        a = approx[f"{side}_idx"] if rows is None else approx[f"{side}_idx"][rows]
        e = exact[f"{side}_idx"]
        for got, want in zip(a, e, strict=True):
            want = want[want >= 0]
            hits += len(np.intersect1d(got, want))
            total += len(want)
    return hits / total if total else 1.0


def tuned_class_split_knn(
    xn: np.ndarray,
    labels: np.ndarray,
    k: int,
    *,
    target: float = 0.95,
    nlist: int | None = None,
    nprobe: int | None = None,
    n_check: int = 500,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Approximate ``class_split_knn`` with nprobe tuned for measured recall@k >= ``target``.

    Starting at ``nprobe`` (default 8), the recall of ``n_check`` seeded random queries against
    their exact lists (``exact_rows``) is measured and nprobe doubled until it reaches ``target``
    (or nprobe reaches nlist). A given ``nprobe`` is used as is (its recall still measured).

    Returns:
        (graph, info) with info ``method="ivf"``, ``nlist``, ``nprobe``, ``recall`` (measured, at the
        nprobe used), ``recall_queries``, ``k``.
    """
    index = ClassIVF(xn, labels, nlist, seed)
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(len(xn), min(n_check, len(xn)), replace=False))
    exact = exact_rows(xn, labels, rows, k)
    q = np.ascontiguousarray(xn[rows], dtype=np.float32)
    probe = nprobe or 8
    while True:
        recall = graph_recall(index.search(q, rows, index.labels[rows], k, probe), exact)
        if nprobe is not None or recall >= target or probe >= index.nlist:
            break
        probe = min(2 * probe, index.nlist)
    graph = index.graph(k, probe)
    info = {
        "method": "ivf",
        "nlist": index.nlist,
        "nprobe": probe,
        "recall": round(recall, 4),
        "recall_queries": len(rows),
        "k": k,
    }
    return graph, info

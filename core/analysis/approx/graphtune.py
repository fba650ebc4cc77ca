"""The approximate kNN graph with its recall measured against brute force, and tuned to a target.

``tuned_class_split_knn`` is what the approximate path calls (``core.analysis.scores``,
``core.runs.knngraph``). It never assumes a recall: on ``n_check`` seeded queries it computes the
exact same/other-class lists by brute force over all N (``exact_rows``) and

1. screening dimensions: starting at ``SCREEN_DIMS``, doubles d' (up to D, where the screening is
   exact) until the screening alone, every group probed, keeps ``SCREEN_TARGET`` of the exact
   neighbours on each side;
2. probes: starting at ``START_PROBE`` groups per side, multiplies by ``PROBE_STEP`` the probe of
   each side whose recall@k is below ``target`` (up to all groups);
3. builds the whole graph with those settings and records them with the recalls measured.

Because each query's result depends only on the query (its groups are ranked for it alone), the
recall of the sampled queries is an unbiased estimate of the recall of the whole graph.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.analysis.approx.ivf import ScreenIndex

SCREEN_DIMS = 32
SCREEN_TARGET = 0.975
START_PROBE = 16
#: the probe of a side short of the target grows by this factor (doubling overshot: 0.99 for 0.95)
PROBE_STEP = 1.5
SIDES = ("same", "other")


def exact_rows(
    xn: np.ndarray, labels: np.ndarray, rows: np.ndarray, k: int, block: int = 65_536
) -> dict[str, np.ndarray]:
    """Exact same/other-class top-k of the samples ``rows`` (m,) by brute force over all N.

    The data is read in blocks of ``block`` rows, each sorted by class, so that each query class
    searches its own class's rows (same side) and the rows before and after them (other side) with
    one matrix product each; the partial lists are merged.

    Returns:
        dict ``same_idx``, ``other_idx`` (m, k) int64 and ``same_sims``, ``other_sims`` (m, k) float32.
    """
    labels, rows = np.asarray(labels, np.int64), np.asarray(rows, np.int64)
    q = np.ascontiguousarray(xn[rows], dtype=np.float32)
    best: dict[str, list[np.ndarray]] = {
        side: [np.full((len(rows), k), -np.inf, np.float32), np.full((len(rows), k), -1, np.int64)] for side in SIDES
    }
    q_classes = np.unique(labels[rows])
    for start in range(0, len(xn), block):
        lb = labels[start : start + block]
        order = np.argsort(lb, kind="stable")
        xb = np.ascontiguousarray(np.asarray(xn[start : start + len(lb)], dtype=np.float32)[order])
        ids = start + order
        edges = np.searchsorted(lb[order], np.r_[q_classes, q_classes + 1]).reshape(2, -1)
        for c, lo, hi in zip(q_classes, edges[0], edges[1], strict=True):
            sel = np.flatnonzero(labels[rows] == c)
            for side, a, b in (("same", lo, hi), ("other", 0, lo), ("other", hi, len(lb))):
                if b > a:
                    sims, pos = _top(q[sel] @ xb[a:b].T, min(k + 1, b - a))
                    found = ids[a + pos]
                    sims[found == rows[sel, None]] = -np.inf
                    _merge(best[side], sel, sims, found, k)
    for side in SIDES:
        best[side][1][~np.isfinite(best[side][0])] = -1
    return {f"{side}_{what}": best[side][j] for side in SIDES for j, what in ((0, "sims"), (1, "idx"))}


def _top(s: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``kk`` largest entries of each row of ``s`` (m, n), unordered: (sims, columns), (m, kk) each."""
    pos = (
        np.argpartition(-s, kk - 1, axis=1)[:, :kk] if kk < s.shape[1] else np.broadcast_to(np.arange(kk), (len(s), kk))
    )
    return np.take_along_axis(s, pos, axis=1), pos


def _merge(best: list[np.ndarray], sel: np.ndarray, sims: np.ndarray, idx: np.ndarray, k: int) -> None:
    """Keep in ``best`` = [sims (m, k), idx (m, k)] the k largest of its rows ``sel`` and ``sims``/``idx``."""
    cs = np.concatenate([best[0][sel], sims], axis=1)
    ci = np.concatenate([best[1][sel], idx], axis=1)
    keep = np.argsort(-cs, axis=1, kind="stable")[:, :k]
    best[0][sel], best[1][sel] = np.take_along_axis(cs, keep, axis=1), np.take_along_axis(ci, keep, axis=1)


def side_recall(
    approx: dict[str, np.ndarray], exact: dict[str, np.ndarray], side: str, rows: np.ndarray | None = None
) -> float:
    """Mean recall@k of one side's approximate lists against the exact ones (real neighbours only).

    Args:
        approx: graph over all N (or over ``rows`` only when ``rows`` is None). exact: lists of ``rows``.
    """
    got_all = approx[f"{side}_idx"] if rows is None else approx[f"{side}_idx"][rows]
    hits = total = 0
    for got, want in zip(got_all, exact[f"{side}_idx"], strict=True):
        want = want[want >= 0]
        hits += len(np.intersect1d(got, want))
        total += len(want)
    return hits / total if total else 1.0


def graph_recall(approx: dict[str, np.ndarray], exact: dict[str, np.ndarray], rows: np.ndarray | None = None) -> float:
    """Mean recall@k over both sides (each real exact neighbour counts once)."""
    hits = total = 0.0
    for side in SIDES:
        want = exact[f"{side}_idx"]
        n_real = int((want >= 0).sum())
        hits += side_recall(approx, exact, side, rows) * n_real
        total += n_real
    return hits / total if total else 1.0


def tuned_class_split_knn(
    xn: np.ndarray,
    labels: np.ndarray,
    k: int,
    *,
    target: float = 0.95,
    nlist: int | None = None,
    probe: int | None = None,
    dims: int | None = None,
    n_check: int = 500,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Approximate ``class_split_knn`` of all N samples, tuned for measured recall@k >= ``target``.

    Args:
        xn: (N, D) float32 unit rows. labels: (N,) int class ids. k: neighbours per side.
        nlist, probe, dims: fixed settings (None = chosen as in the module docstring); a fixed
            setting is used as is and its recall still measured.

    Returns:
        (graph, info): the graph in the format of ``class_split_knn``; info ``method="screen-ivf"``,
        ``dims``, ``nlist``, ``groups``, ``rerank``, ``probe_same``, ``probe_other``, ``recall``,
        ``recall_same``, ``recall_other``, ``screen_recall`` (every group probed), ``recall_queries``, ``k``.
    """
    n, d = xn.shape
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(n, min(n_check, n), replace=False))
    exact = exact_rows(xn, labels, rows, k)
    dim = dims or min(SCREEN_DIMS, d)
    while True:
        index = ScreenIndex(xn, labels, dim, nlist, seed)
        full = index.search_rows(rows, k, index.groups, index.groups)
        screen = {side: side_recall(full, exact, side) for side in SIDES}
        if dims is not None or min(screen.values()) >= SCREEN_TARGET or index.dims >= d:
            break
        dim = min(2 * dim, d)
    probes = dict.fromkeys(SIDES, probe or START_PROBE)
    while True:
        got = index.search_rows(rows, k, probes["same"], probes["other"])
        recall = {side: side_recall(got, exact, side) for side in SIDES}
        short = [s for s in SIDES if recall[s] < target and probes[s] < index.groups]
        if probe is not None or not short:
            break
        for side in short:
            probes[side] = min(math.ceil(PROBE_STEP * probes[side]), index.groups)
    graph = index.search_rows(np.arange(n), k, probes["same"], probes["other"])
    info = {
        "method": "screen-ivf",
        **index.describe(),
        "probe_same": probes["same"],
        "probe_other": probes["other"],
        "recall": round(graph_recall(got, exact), 4),
        "recall_same": round(recall["same"], 4),
        "recall_other": round(recall["other"], 4),
        "screen_recall": round(min(screen.values()), 4),
        "recall_queries": len(rows),
        "k": k,
    }
    return graph, info

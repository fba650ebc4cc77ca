"""The exact dataset-level ``band`` sweep over all pair similarities, blockwise (no N x N matrix).

``band_sweep`` gives the band thresholds Sim_posHigh / Sim_posLow over all ordered pairs and each
row's share of pairs inside the band (``core.analysis.scores``), and, fused into the same sweep, each
row's same/other-class top-k similarities. Blocks S = X_I X_J^T (I <= J, so each pair is
multiplied once per pass; numpy/BLAS on the CPU, torch on the GPU) go through numba kernels.
Pass 1 fills an exact histogram of all ordered-pair similarities (2^17 bins over [-1, 1]) and
the top-k lists; the histogram locates the bin and rank of Sim_posHigh / Sim_posLow. Pass 2
counts each row's pairs strictly between those two bins and collects the values inside them,
from which the thresholds (exact order statistics) and the exact counts follow.
Memory O(N*k + block^2 + values in two bins).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numba
import numpy as np
import torch

from core.analysis.band_kernels import NBINS, bin_cut, sweep_pass1, sweep_pass2
from core.device import pick_device


def _cuts(b_lo: int, b_hi: int) -> np.ndarray:
    def cut(b: int) -> np.float32:
        return np.float32(-np.inf) if b <= 0 else (np.float32(np.inf) if b >= NBINS else bin_cut(b))

    return np.array([cut(b_lo), cut(b_lo + 1), cut(b_hi), cut(b_hi + 1)], np.float32)


def _merge_topk(heap: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Rows of heap (n, k) merged with extra (T, n, k); returns the top k per row, descending."""
    k = heap.shape[1]
    cand = np.concatenate([heap, extra.transpose(1, 0, 2).reshape(len(heap), -1)], axis=1)
    return -np.sort(-cand, axis=1)[:, :k]


def _rank_threshold(hist: np.ndarray, m: int) -> tuple[int, int]:
    """Bin holding the m-th largest value and its 1-based rank inside that bin."""
    at_least = np.cumsum(hist[::-1])[::-1]  # values in bins >= b
    b = int(np.flatnonzero(at_least >= m).max())
    return b, int(m - (at_least[b] - hist[b]))


def band_sweep(
    xn: np.ndarray,
    pos_high: float,
    pos_low: float,
    labels: np.ndarray | None = None,
    k: int = 20,
    reference: np.ndarray | None = None,
    block: int = 4096,
    device: str = "auto",
) -> dict[str, Any]:
    """Exact band thresholds, per-row band shares and (with labels) same/other-class top-k sims.

    Args:
        xn: (N, D) float32 unit rows. pos_high < pos_low: fractions of the descending pair list.
        labels: (N,) int64 or None. With labels (and no reference) the same sweep fills each
            row's k largest same-class and other-class similarities.
        reference: sorted (R,) int64 sample ids; pairs are then (i, r) with r in it, i != r.
        block: rows/columns per block; memory O(N*k + block^2).

    Returns:
        dict: ``band`` (N,) float64 share of a row's pairs with t_lo <= s < t_hi; ``t_hi``, ``t_lo``
        floats (exact order statistics, see core.analysis.scores); with labels ``same_sims``,
        ``other_sims`` (N, k) float32 descending, ``-inf`` where a side has fewer than k samples.
    """
    n = len(xn)
    cols = np.arange(n) if reference is None else np.asarray(reference, dtype=np.int64)
    use_lab = labels is not None and reference is None
    lab = np.asarray(labels, np.int64) if use_lab else np.zeros(n, np.int64)
    blocks = _block_source(xn, cols, reference is None, block, device)
    h, same, other = _first_pass(blocks, n, k, lab, use_lab)
    t_hi, t_lo, counts = _second_pass(blocks, n, h, pos_high, pos_low)
    denom = np.full(n, len(cols) - (1 if reference is None else 0), np.float64)
    if reference is not None:
        denom[cols] -= 1
    out: dict[str, Any] = {"band": counts / denom, "t_hi": t_hi, "t_lo": t_lo}
    if use_lab:
        out.update(same_sims=same, other_sims=other)
    return out


_Block = tuple[np.ndarray, np.ndarray, bool, np.ndarray]


def _block_source(
    xn: np.ndarray, cols: np.ndarray, symmetric: bool, block: int, device: str
) -> Callable[[], Iterator[_Block]]:
    """A function yielding the similarity blocks ``(row ids, column ids, symmetric, s (r, c) float32)``.

    ``symmetric``: pairs of all rows (upper block triangle, each off-diagonal block stands for its
    mirror too); else every row against the columns ``cols``. ``s`` is one reused buffer.
    """
    n = len(xn)
    dev = pick_device(device)
    use_torch = dev.type == "cuda"
    xt = torch.from_numpy(xn).to(dev) if use_torch else None
    pairs = [
        (i, j, symmetric and i != j)
        for i in range(0, n, block)
        for j in (range(i, n, block) if symmetric else range(0, len(cols), block))
    ]
    xc = xn if symmetric else np.ascontiguousarray(xn[cols])
    xct = (xt if symmetric else torch.from_numpy(xc).to(dev)) if use_torch else None
    buf = np.empty(min(block, n) * min(block, len(cols)), np.float32)  # reused: no page faults

    def blocks() -> Iterator[_Block]:
        for i, j, sym in pairs:
            rid, cid = np.arange(i, min(i + block, n)), cols[j : j + block]
            s = buf[: len(rid) * len(cid)].reshape(len(rid), len(cid))
            if xt is not None and xct is not None:
                s[...] = (xt[i : i + block] @ xct[j : j + block].T).cpu().numpy()
            else:
                np.matmul(xn[i : i + block], xc[j : j + block].T, out=s)
            yield rid, cid, sym, s

    return blocks


def _first_pass(
    blocks: Callable[[], Iterator[_Block]], n: int, k: int, lab: np.ndarray, use_lab: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histogram (NBINS,) int64 of all pair similarities, and (with labels) same/other top-k (n, k) float32."""
    nt = numba.get_num_threads()
    hist = np.zeros((nt, NBINS), np.int64)
    shape = (n, k) if use_lab else (1, 1)
    same, other = np.full(shape, -np.inf, np.float32), np.full(shape, -np.inf, np.float32)
    for rid, cid, sym, s in blocks():
        cshape = (nt, len(cid), k) if (sym and use_lab) else (nt, 1, 1)
        same_c, other_c = np.full(cshape, -np.inf, np.float32), np.full(cshape, -np.inf, np.float32)
        sweep_pass1(s, rid, cid, lab[rid], lab[cid], sym, use_lab, hist, same, other, same_c, other_c)
        if sym and use_lab:
            same[cid] = _merge_topk(same[cid], same_c)
            other[cid] = _merge_topk(other[cid], other_c)
    return hist.sum(axis=0), same, other


def _second_pass(
    blocks: Callable[[], Iterator[_Block]], n: int, h: np.ndarray, pos_high: float, pos_low: float
) -> tuple[float, float, np.ndarray]:
    """Exact ``(t_hi, t_lo)`` from the histogram ``h`` and the boundary bins; per-row band counts (n,) int64."""
    nt = numba.get_num_threads()
    total = int(h.sum())
    m_hi = min(max(math.ceil(pos_high * total), 1), total)
    m_lo = min(max(math.ceil(pos_low * total), 1), total)
    b_hi, r_hi = _rank_threshold(h, m_hi)
    b_lo, r_lo = _rank_threshold(h, m_lo)
    cap = int(h[b_hi] + (h[b_lo] if b_lo != b_hi else 0))
    mid = np.zeros(n, np.int64)
    cuts = _cuts(b_lo, b_hi)
    buf_v, buf_r = np.empty((nt, cap), np.float32), np.empty((nt, cap), np.int64)
    buf_f, fill = np.empty((nt, cap), np.bool_), np.zeros(nt, np.int64)
    for rid, cid, sym, s in blocks():
        mid_c = np.zeros((nt, len(cid) if sym else 1), np.int64)
        sweep_pass2(s, rid, cid, sym, cuts, mid, mid_c, buf_v, buf_r, buf_f, fill)
        if sym:
            mid[cid] += mid_c.sum(axis=0)
    vals = np.concatenate([buf_v[t, : fill[t]] for t in range(nt)])
    rows = np.concatenate([buf_r[t, : fill[t]] for t in range(nt)])
    in_hi = np.concatenate([buf_f[t, : fill[t]] for t in range(nt)])
    in_lo = in_hi if b_lo == b_hi else ~in_hi
    if in_hi.sum() != h[b_hi] or in_lo.sum() != h[b_lo]:
        raise RuntimeError("band sweep: histogram and boundary counts disagree (a bug)")
    t_hi = float(-np.sort(-vals[in_hi])[r_hi - 1])
    t_lo = float(-np.sort(-vals[in_lo])[r_lo - 1])
    inside = (vals >= t_lo) & (vals < t_hi)
    return t_hi, t_lo, mid + np.bincount(rows[inside], minlength=n)

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
from numba import njit, prange

from core.training.features import pick_device

NBINS = 1 << 17  # histogram bins over [-1, 1] for the exact global similarity quantiles
_SCALE = np.float32(NBINS / 2)


# ---------------------------------------------------------------------------------------------
# Blockwise sweep over all pair similarities (the ``band`` score and same/other-class top-k).
# Each similarity block S = X_I X_J^T is visited by numba kernels that update, in one pass over
# its values, a per-thread histogram, per-row counts and per-row top-k lists. Off-diagonal blocks
# (I < J) also update the column rows (thread-local, merged after), so each pair is multiplied once.


@njit(cache=True)
def _bin(v: float | np.float32) -> int:
    b = int((v + np.float32(1.0)) * _SCALE)  # monotone in v, identical in both passes
    return min(max(b, 0), NBINS - 1)


@njit(cache=True)
def _push(h: np.ndarray, r: int, v: float) -> None:
    """Insert v into row r of h (rows sorted descending, fixed length k) when it belongs there."""
    k = h.shape[1]
    if v <= h[r, k - 1]:
        return
    p = k - 1
    while p > 0 and h[r, p - 1] < v:
        h[r, p] = h[r, p - 1]
        p -= 1
    h[r, p] = v


@njit(cache=True)
def _push3(h: np.ndarray, t: int, r: int, v: float) -> None:
    """``_push`` on h[t] of a (T, n, k) array (no per-element view)."""
    k = h.shape[2]
    if v <= h[t, r, k - 1]:
        return
    p = k - 1
    while p > 0 and h[t, r, p - 1] < v:
        h[t, r, p] = h[t, r, p - 1]
        p -= 1
    h[t, r, p] = v


@njit(parallel=True, cache=True)
def _pass1(  # noqa: PLR0913 - a numba kernel takes its arrays one by one
    S: np.ndarray,
    rid: np.ndarray,
    cid: np.ndarray,
    lab_r: np.ndarray,
    lab_c: np.ndarray,
    sym: bool,
    use_lab: bool,
    hist: np.ndarray,
    same: np.ndarray,
    other: np.ndarray,
    same_c: np.ndarray,
    other_c: np.ndarray,
) -> None:
    n_threads = hist.shape[0]
    br, bc = S.shape
    w = 2 if sym else 1
    k = same.shape[1]
    kc = same_c.shape[2]
    for t in prange(n_threads):
        for a in range(t * br // n_threads, (t + 1) * br // n_threads):
            i = rid[a]
            la = lab_r[a]
            s_min, o_min = same[i, k - 1], other[i, k - 1]  # row heap minima kept in registers
            for b in range(bc):
                if i == cid[b]:
                    continue
                v = S[a, b]
                hist[t, _bin(v)] += w
                if not use_lab:
                    continue
                if la == lab_c[b]:
                    if v > s_min:
                        _push(same, i, v)
                        s_min = same[i, k - 1]
                    if sym and v > same_c[t, b, kc - 1]:
                        _push3(same_c, t, b, v)
                else:
                    if v > o_min:
                        _push(other, i, v)
                        o_min = other[i, k - 1]
                    if sym and v > other_c[t, b, kc - 1]:
                        _push3(other_c, t, b, v)


@njit(parallel=True, cache=True)
def _pass2(
    S: np.ndarray,
    rid: np.ndarray,
    cid: np.ndarray,
    sym: bool,
    cuts: np.ndarray,
    mid_r: np.ndarray,
    mid_c: np.ndarray,
    buf_v: np.ndarray,
    buf_r: np.ndarray,
    buf_f: np.ndarray,
    fill: np.ndarray,
) -> None:
    # cuts = (a, b, c, d) float32: bin(v) >= b_lo <=> v >= a, > b_lo <=> v >= b,
    # >= b_hi <=> v >= c, > b_hi <=> v >= d (bin is monotone, so each bin edge is one float)
    n_threads = mid_c.shape[0]
    br, bc = S.shape
    lo_in, lo_out, hi_in, hi_out = cuts[0], cuts[1], cuts[2], cuts[3]
    for t in prange(n_threads):
        for a in range(t * br // n_threads, (t + 1) * br // n_threads):
            i = rid[a]
            cnt = 0
            for b in range(bc):
                v = S[a, b]
                if v < lo_in or v >= hi_out or i == cid[b]:
                    continue
                if v >= lo_out and v < hi_in:
                    cnt += 1
                    if sym:
                        mid_c[t, b] += 1
                    continue
                f = fill[t]
                buf_v[t, f], buf_r[t, f], buf_f[t, f] = v, i, v >= hi_in
                if sym:
                    buf_v[t, f + 1], buf_r[t, f + 1], buf_f[t, f + 1] = v, cid[b], v >= hi_in
                    f += 1
                fill[t] = f + 1
            mid_r[i] += cnt


def _bin_cut(b: int) -> np.float32:
    """The smallest float32 v with ``_bin(v) >= b`` (b in 1..NBINS-1)."""
    v = np.float32(b / float(_SCALE) - 1.0)
    while _bin(v) >= b:
        v = np.nextafter(v, np.float32(-2.0))
    while _bin(v) < b:
        v = np.nextafter(v, np.float32(2.0))
    return v


def _cuts(b_lo: int, b_hi: int) -> np.ndarray:
    def cut(b: int) -> np.float32:
        return np.float32(-np.inf) if b <= 0 else (np.float32(np.inf) if b >= NBINS else _bin_cut(b))

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
        _pass1(s, rid, cid, lab[rid], lab[cid], sym, use_lab, hist, same, other, same_c, other_c)
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
        _pass2(s, rid, cid, sym, cuts, mid, mid_c, buf_v, buf_r, buf_f, fill)
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

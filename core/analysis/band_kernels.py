"""The numba kernels of ``core.analysis.band.band_sweep``: one visit of a similarity block each.

Each similarity block S = X_I X_J^T is visited by numba kernels that update, in one pass over
its values, a per-thread histogram, per-row counts and per-row top-k lists (``sweep_pass1``), or the
per-row counts strictly inside the band's boundary bins and the values inside them (``sweep_pass2``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

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
def sweep_pass1(  # noqa: PLR0913 - a numba kernel takes its arrays one by one
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
def sweep_pass2(
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


def bin_cut(b: int) -> np.float32:
    """The smallest float32 v with ``_bin(v) >= b`` (b in 1..NBINS-1)."""
    v = np.float32(b / float(_SCALE) - 1.0)
    while _bin(v) >= b:
        v = np.nextafter(v, np.float32(-2.0))
    while _bin(v) < b:
        v = np.nextafter(v, np.float32(2.0))
    return v

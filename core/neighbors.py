"""Exact cosine similarity structure of frozen features: kNN and a blockwise all-pairs sweep.

All public functions work on L2-normalised rows, so inner product = cosine similarity.

- ``knn``: exact k-nearest neighbours; faiss ``IndexFlatIP`` on the CPU, searched in query blocks,
  or a blockwise torch matmul + top-k on the GPU. Memory O(N*k + block*N).
- ``class_split_knn``: each sample's k nearest same-class and other-class neighbours (faiss, one
  search per class; one pass over all N^2 pairs in total).
- ``band_sweep``: the exact dataset-level band thresholds and per-row band shares of
  ``core.scores`` (and, fused into the same sweep, same/other-class top-k similarities). Blocks
  S = X_I X_J^T (I <= J, so each pair is multiplied once per pass; numpy/BLAS on the CPU, torch on
  the GPU) go through numba kernels. Pass 1 fills an exact histogram of all ordered-pair
  similarities (2^17 bins over [-1, 1]) and the top-k lists; the histogram locates the bin and
  rank of Sim_posHigh / Sim_posLow. Pass 2 counts each row's pairs strictly between those two
  bins and collects the values inside them, from which the thresholds (exact order statistics)
  and the exact counts follow. Memory O(N*k + block^2 + values in two bins); no N x N matrix.
"""
from __future__ import annotations

import math

import faiss
import numba
import numpy as np
import torch
from numba import njit, prange

from .errors import HardpairsError

NBINS = 1 << 17  # histogram bins over [-1, 1] for the exact global similarity quantiles
_SCALE = np.float32(NBINS / 2)
COLLAPSE_HINT = "the model collapsed; retrain longer or check the checkpoint"


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm.

    Args:
        x: (N, D) features, any float dtype.

    Returns:
        (N, D) float32, C-contiguous, every row of norm 1.

    Raises:
        HardpairsError: a row has zero (or non-finite) norm, or all rows are the same vector.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise HardpairsError(f"features must be a non-empty (N, D) array, got shape {x.shape}; "
                             "recompute them with `python -m core probe --run-dir R`")
    if not np.isfinite(x).all():
        raise HardpairsError("features contain NaN or inf values; the checkpoint is broken, "
                             "retrain or load an earlier checkpoint")
    norms = np.linalg.norm(x, axis=1)
    zero = int((norms <= 1e-12).sum())
    if zero:
        raise HardpairsError(f"features are constant (zero) for {zero} of {len(x)} samples, so "
                             f"cosine similarity is undefined: {COLLAPSE_HINT}")
    out = x / norms[:, None].astype(np.float32)
    if len(out) > 1 and float(np.abs(out - out[0]).max()) < 1e-6:
        raise HardpairsError(f"features are constant: all {len(out)} samples map to the same "
                             f"vector, so every similarity is 1: {COLLAPSE_HINT}")
    return np.ascontiguousarray(out, dtype=np.float32)


def _check_k(k: int, n_db: int, exclude_self: bool) -> None:
    limit = n_db - 1 if exclude_self else n_db
    if k < 1 or k > limit:
        raise HardpairsError(
            f"k={k} neighbours asked but only {n_db} samples"
            + (" (self excluded)" if exclude_self else "")
            + f"; pass a k between 1 and {max(limit, 1)} or use more samples")


def _drop_self(sims: np.ndarray, idx: np.ndarray, qid: np.ndarray, k: int):
    """From (n, k+1) results drop each query's own id (or the last column when absent)."""
    mask = idx == qid[:, None]
    missing = ~mask.any(axis=1)
    mask[missing, -1] = True
    first = mask.argmax(axis=1)  # only one column per row is dropped
    keep = np.ones_like(mask)
    keep[np.arange(len(idx)), first] = False
    return sims[keep].reshape(-1, k), idx[keep].reshape(-1, k)


def _knn_faiss(xn, qn, k, exclude_self, block):
    index = faiss.IndexFlatIP(xn.shape[1])
    index.add(xn)
    kk = k + 1 if exclude_self else k
    sims = np.empty((len(qn), k), np.float32)
    idx = np.empty((len(qn), k), np.int64)
    for start in range(0, len(qn), block):
        s, i = index.search(qn[start:start + block], kk)
        if exclude_self:
            s, i = _drop_self(s, i, np.arange(start, start + len(s)), k)
        sims[start:start + len(s)], idx[start:start + len(s)] = s, i
    return sims, idx


def _knn_torch(xn, qn, k, exclude_self, block, device):
    xt = torch.from_numpy(xn).to(device)
    qt = torch.from_numpy(qn).to(device)
    block = max(1, min(block, int(2**28 // max(len(xn), 1))))  # <= 1 GiB of similarities
    sims = np.empty((len(qn), k), np.float32)
    idx = np.empty((len(qn), k), np.int64)
    for start in range(0, len(qn), block):
        s = qt[start:start + block] @ xt.T
        if exclude_self:
            rows = torch.arange(len(s), device=device)
            s[rows, rows + start] = -torch.inf
        v, i = torch.topk(s, k, dim=1)
        sims[start:start + len(s)] = v.cpu().numpy()
        idx[start:start + len(s)] = i.cpu().numpy()
    return sims, idx


def knn(x: np.ndarray, k: int, queries: np.ndarray | None = None, exclude_self: bool = True,
        block: int = 8192, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine k-nearest neighbours.

    Args:
        x: (N, D) database features (normalised inside).
        k: neighbours per query.
        queries: (Nq, D) query features; ``None`` queries the database itself.
        exclude_self: when querying the database itself, leave each sample out of its own list.
            Ignored when ``queries`` is given.
        block: queries per search call (bounds the memory of one call).
        device: ``"auto"``, ``"cpu"`` (faiss) or ``"cuda"`` (torch matmul + top-k).

    Returns:
        sims (Nq, k) float32, descending per row; idx (Nq, k) int64 indices into ``x``.
    """
    xn = l2_normalise(x)
    self_query = queries is None
    qn = xn if self_query else l2_normalise(queries)
    exclude_self = exclude_self and self_query
    _check_k(k, len(xn), exclude_self)
    if resolve_device(device) == "cuda":
        return _knn_torch(xn, qn, k, exclude_self, block, "cuda")
    return _knn_faiss(xn, qn, k, exclude_self, block)


def class_split_knn(xn: np.ndarray, labels: np.ndarray, k: int, block: int = 8192):
    """Each sample's k nearest same-class and k nearest other-class neighbours (exact, cosine).

    Args:
        xn: (N, D) float32 L2-normalised features (see ``l2_normalise``).
        labels: (N,) int labels.
        k: neighbours per side; a side with fewer candidates is padded with sim ``-inf``, idx -1.

    Returns:
        dict with ``same_sims``, ``other_sims`` (N, k) float32 descending and ``same_idx``,
        ``other_idx`` (N, k) int64 global indices. Cost: one pass over all N^2 pairs.
    """
    labels = np.asarray(labels)
    n = len(xn)
    out = {name: np.full((n, k), -np.inf, np.float32) for name in ("same_sims", "other_sims")}
    out.update({name: np.full((n, k), -1, np.int64) for name in ("same_idx", "other_idx")})
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        others = np.flatnonzero(labels != c)
        qn = np.ascontiguousarray(xn[members])
        for side, pool, excl in (("same", members, True), ("other", others, False)):
            kk = min(k, len(pool) - (1 if excl else 0))
            if kk < 1:
                continue
            s, i = _knn_faiss(np.ascontiguousarray(xn[pool]), qn, kk, excl, block)
            out[f"{side}_sims"][members, :kk] = s
            out[f"{side}_idx"][members, :kk] = pool[i]
    return out


# ---------------------------------------------------------------------------------------------
# Blockwise sweep over all pair similarities (the ``band`` score and same/other-class top-k).
# Each similarity block S = X_I X_J^T is visited by numba kernels that update, in one pass over
# its values, a per-thread histogram, per-row counts and per-row top-k lists. Off-diagonal blocks
# (I < J) also update the column rows (thread-local, merged after), so each pair is multiplied once.


@njit(cache=True)
def _bin(v):
    b = int((v + np.float32(1.0)) * _SCALE)  # monotone in v, identical in both passes
    return min(max(b, 0), NBINS - 1)


@njit(cache=True)
def _push(h, r, v):
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
def _push3(h, t, r, v):
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
def _pass1(S, rid, cid, lab_r, lab_c, sym, use_lab, hist, same, other, same_c, other_c):
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
def _pass2(S, rid, cid, sym, cuts, mid_r, mid_c, buf_v, buf_r, buf_f, fill):
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
    def cut(b):
        return np.float32(-np.inf) if b <= 0 else (np.float32(np.inf) if b >= NBINS
                                                     else _bin_cut(b))
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


def band_sweep(xn: np.ndarray, pos_high: float, pos_low: float, labels: np.ndarray | None = None,
               k: int = 20, reference: np.ndarray | None = None, block: int = 4096,
               device: str = "auto") -> dict:
    """Exact band thresholds, per-row band shares and (with labels) same/other-class top-k sims.

    Args:
        xn: (N, D) float32 unit rows. pos_high < pos_low: fractions of the descending pair list.
        labels: (N,) int64 or None. With labels (and no reference) the same sweep fills each
            row's k largest same-class and other-class similarities.
        reference: sorted (R,) int64 sample ids; pairs are then (i, r) with r in it, i != r.
        block: rows/columns per block; memory O(N*k + block^2).

    Returns:
        dict: ``band`` (N,) float64 share of a row's pairs with t_lo <= s < t_hi; ``t_hi``, ``t_lo``
        floats (exact order statistics, see core.scores); with labels ``same_sims``,
        ``other_sims`` (N, k) float32 descending, ``-inf`` where a side has fewer than k samples.
    """
    n = len(xn)
    cols = np.arange(n) if reference is None else np.asarray(reference, dtype=np.int64)
    use_lab = labels is not None and reference is None
    lab = (np.asarray(labels, np.int64) if use_lab else np.zeros(n, np.int64))
    nt = numba.get_num_threads()
    use_torch = resolve_device(device) == "cuda"
    xt = torch.from_numpy(xn).to("cuda") if use_torch else None
    pairs = [(i, j, reference is None and i != j) for i in range(0, n, block)
             for j in (range(i, n, block) if reference is None else range(0, len(cols), block))]

    xc = xn if reference is None else np.ascontiguousarray(xn[cols])
    xct = (xt if reference is None else torch.from_numpy(xc).to("cuda")) if use_torch else None

    buf = np.empty(min(block, n) * min(block, len(cols)), np.float32)  # reused: no page faults

    def blocks():
        for i, j, sym in pairs:
            rid, cid = np.arange(i, min(i + block, n)), cols[j:j + block]
            s = buf[:len(rid) * len(cid)].reshape(len(rid), len(cid))
            if use_torch:
                s[...] = (xt[i:i + block] @ xct[j:j + block].T).cpu().numpy()
            else:
                np.matmul(xn[i:i + block], xc[j:j + block].T, out=s)
            yield rid, cid, sym, s

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
    h = hist.sum(axis=0)
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
    vals = np.concatenate([buf_v[t, :fill[t]] for t in range(nt)])
    rows = np.concatenate([buf_r[t, :fill[t]] for t in range(nt)])
    in_hi = np.concatenate([buf_f[t, :fill[t]] for t in range(nt)])
    in_lo = in_hi if b_lo == b_hi else ~in_hi
    if in_hi.sum() != h[b_hi] or in_lo.sum() != h[b_lo]:
        raise RuntimeError("band sweep: histogram and boundary counts disagree (a bug)")
    t_hi = float(-np.sort(-vals[in_hi])[r_hi - 1])
    t_lo = float(-np.sort(-vals[in_lo])[r_lo - 1])
    inside = (vals >= t_lo) & (vals < t_hi)
    counts = mid + np.bincount(rows[inside], minlength=n)
    denom = np.full(n, len(cols) - (1 if reference is None else 0), np.float64)
    if reference is not None:
        denom[cols] -= 1
    out = {"band": counts / denom, "t_hi": t_hi, "t_lo": t_lo}
    if use_lab:
        out.update(same_sims=same, other_sims=other)
    return out

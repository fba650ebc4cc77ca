"""Exact cosine kNN and the blockwise band sweep against brute-force N x N NumPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.analysis.band import band_sweep
from core.analysis.neighbors import class_split_knn, knn, l2_normalise
from core.errors import HardpairsError


def clustered(n=300, d=16, c=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((c, d))
    y = rng.integers(0, c, n)
    return (centres[y] + rng.standard_normal((n, d))).astype(np.float32), y


def lattice(n=240, d=16, seed=0):
    """Rows of +-1/4 entries: unit norm exactly and exact dot products (many ties)."""
    rng = np.random.default_rng(seed)
    return (rng.choice([-0.25, 0.25], size=(n, d))).astype(np.float32), rng.integers(0, 4, n)


def brute_band(xn, pos_high, pos_low, cols=None):
    s = xn @ xn.T
    n = len(xn)
    cols = np.arange(n) if cols is None else cols
    valid = np.ones((n, len(cols)), bool)
    valid[cols, np.arange(len(cols))] = False  # i == r
    sub = s[:, cols]
    v = -np.sort(-sub[valid])
    t_hi = v[max(math.ceil(pos_high * len(v)), 1) - 1]
    t_lo = v[max(math.ceil(pos_low * len(v)), 1) - 1]
    counts = ((sub >= t_lo) & (sub < t_hi) & valid).sum(axis=1)
    return counts / valid.sum(axis=1), t_hi, t_lo


def test_knn_matches_brute_force_and_blocks():
    x, _ = clustered()
    xn = l2_normalise(x)
    s = xn @ xn.T
    np.fill_diagonal(s, -np.inf)
    ref_idx = np.argsort(-s, axis=1, kind="stable")[:, :7]
    for block in (8192, 37):
        sims, idx = knn(x, 7, block=block, device="cpu")
        assert sims.dtype == np.float32 and idx.dtype == np.int64 and sims.shape == (300, 7)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(sims, np.take_along_axis(s, ref_idx, 1), atol=1e-5)
        assert (np.diff(sims, axis=1) <= 0).all()
    q = x[:20] * 3.0  # scale does not matter for cosine; self not excluded for foreign queries
    sims, idx = knn(x, 3, queries=q)
    np.testing.assert_array_equal(idx[:, 0], np.arange(20))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)


def test_knn_bad_inputs():
    x, _ = clustered(n=10)
    with pytest.raises(HardpairsError, match="k=10 neighbours asked but only 10 samples"):
        knn(x, 10)
    x[3] = 0
    with pytest.raises(HardpairsError, match="constant.*model collapsed; retrain longer"):
        knn(x, 2)
    with pytest.raises(HardpairsError, match="all 5 samples map to the same vector"):
        l2_normalise(np.ones((5, 4)))


def test_class_split_knn_matches_brute_force():
    x, y = clustered(n=200)
    y[:2] = 9  # a class of two samples: one same-class neighbour, the rest padded
    xn = l2_normalise(x)
    res = class_split_knn(xn, y, 4)
    s = xn @ xn.T
    same = np.where((y[:, None] == y[None, :]) & ~np.eye(200, dtype=bool), s, -np.inf)
    other = np.where(y[:, None] != y[None, :], s, -np.inf)
    np.testing.assert_allclose(res["same_sims"], -np.sort(-same, 1)[:, :4], atol=1e-5)
    np.testing.assert_allclose(res["other_sims"], -np.sort(-other, 1)[:, :4], atol=1e-5)
    np.testing.assert_array_equal(res["other_idx"], np.argsort(-other, 1, kind="stable")[:, :4])
    assert res["same_idx"][0, 0] == 1 and (res["same_idx"][0, 1:] == -1).all()


@pytest.mark.parametrize("block", [4096, 50, 37])
def test_band_sweep_exact_with_ties(block):
    x, y = lattice()
    xn = l2_normalise(x)
    res = band_sweep(xn, 0.15, 0.22, labels=y, k=6, block=block)
    band, t_hi, t_lo = brute_band(xn, 0.15, 0.22)
    assert (res["t_hi"], res["t_lo"]) == (t_hi, t_lo)
    np.testing.assert_array_equal(res["band"], band)
    s = xn @ xn.T
    same = np.where((y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool), s, -np.inf)
    other = np.where(y[:, None] != y[None, :], s, -np.inf)
    np.testing.assert_array_equal(res["same_sims"], -np.sort(-same, 1)[:, :6])
    np.testing.assert_array_equal(res["other_sims"], -np.sort(-other, 1)[:, :6])


def test_band_sweep_continuous_and_reference():
    x, _ = clustered(n=260)
    xn = l2_normalise(x)
    res = band_sweep(xn, 0.1, 0.5, block=64)
    band, t_hi, t_lo = brute_band(xn, 0.1, 0.5)
    np.testing.assert_array_equal(res["band"], band)
    assert res["t_hi"] == t_hi and res["t_lo"] == t_lo
    ref = np.sort(np.random.default_rng(1).choice(260, 40, replace=False))
    res = band_sweep(xn, 0.1, 0.5, reference=ref, block=64)
    band, t_hi, t_lo = brute_band(xn, 0.1, 0.5, cols=ref)
    np.testing.assert_array_equal(res["band"], band)
    assert res["t_hi"] == t_hi and "same_sims" not in res


def test_torch_path_matches_faiss_path_on_cpu():
    from core.analysis.neighbors import _knn_faiss, _knn_torch

    x, _ = clustered(n=150)
    xn = l2_normalise(x)
    s1, i1 = _knn_faiss(xn, xn, 5, True, 64)
    s2, i2 = _knn_torch(xn, xn, 5, True, 64, "cpu")
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-5)

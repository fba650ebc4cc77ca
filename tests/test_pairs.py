"""Hardest cross-class pairs and the class-pair map against brute-force N x N references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.analysis.neighbors import l2_normalise
from core.analysis.pairs import class_pair_matrix, hardest_pairs
from core.errors import HardpairsError
from core.io import save_npz, write_json
from tests.helpers import run_cli


def clustered(n=200, d=16, c=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((c, d)) * 1.5
    y = rng.integers(0, c, n)
    return (centres[y] + rng.standard_normal((n, d))).astype(np.float32), y


def test_hardest_pairs_match_all_pairs_ranking():
    x, y = clustered()
    df = hardest_pairs(x, y, top=40, k=20)
    xn = l2_normalise(x)
    s = xn @ xn.T
    i, j = np.triu_indices(len(y), 1)
    cross = y[i] != y[j]
    i, j, v = i[cross], j[cross], s[i[cross], j[cross]]
    order = np.argsort(-v, kind="stable")[:40]
    assert list(df.columns) == ["i", "j", "label_i", "label_j", "similarity"]
    np.testing.assert_array_equal(df["i"], i[order])
    np.testing.assert_array_equal(df["j"], j[order])
    np.testing.assert_allclose(df["similarity"], v[order], atol=1e-5)
    assert (df["label_i"] != df["label_j"]).all() and (df["i"] < df["j"]).all()
    np.testing.assert_array_equal(df["label_i"], y[df["i"]])


def test_class_pair_matrix_matches_brute_force():
    x, y = clustered(n=160)
    xn = l2_normalise(x)
    k, c = 6, 5  # class 4 is empty: NaN mean, zero counts
    res = class_pair_matrix(x, y, c, 0.15, 0.4, k=k)
    s = xn @ xn.T
    n = len(y)
    off = ~np.eye(n, dtype=bool)
    v = -np.sort(-s[off])
    t_hi, t_lo = v[math.ceil(0.15 * len(v)) - 1], v[math.ceil(0.4 * len(v)) - 1]
    assert res["t_hi"] == pytest.approx(t_hi) and res["t_lo"] == pytest.approx(t_lo)
    other = np.where(y[:, None] != y[None, :], s, -np.inf)
    nbr = np.argsort(-other, axis=1, kind="stable")[:, :k]
    edges = {(min(a, b), max(a, b)) for a in range(n) for b in nbr[a]}
    counts = np.zeros((c, c), np.int64)
    for a, b in edges:
        if t_lo <= s[a, b] < t_hi:
            counts[y[a], y[b]] += 1
            counts[y[b], y[a]] += 1
    np.testing.assert_array_equal(res["difficult_counts"], counts)
    assert counts.sum() > 0 and (np.diag(counts) == 0).all()
    mean = res["mean_similarity"]
    for a in range(4):
        for b in range(4):
            block = s[np.ix_(y == a, y == b)]
            expect = block[~np.eye(len(block), dtype=bool)].mean() if a == b else block.mean()
            assert mean[a, b] == pytest.approx(expect, abs=1e-5)
    assert np.isnan(mean[4]).all()
    again = class_pair_matrix(x, y, c, 0.15, 0.4, k=k, thresholds=(t_hi, t_lo))
    np.testing.assert_array_equal(again["difficult_counts"], counts)


def test_pairs_need_labels():
    x, _ = clustered(n=30)
    with pytest.raises(HardpairsError, match="unlabelled"):
        hardest_pairs(x, np.full(30, -1))
    with pytest.raises(HardpairsError, match="two classes"):
        class_pair_matrix(x, np.zeros(30, int), 2, 0.1, 0.2)


def test_pairs_cli(tmp_path, capsys):
    x, y = clustered(n=120)
    run = tmp_path / "r"
    run.mkdir()
    write_json(run / "config.json", {"pos_high": 0.15, "pos_low": 0.3})
    write_json(run / "manifest.json", {"classes": ["a", "b", "c", "d"]})
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    code, res = run_cli(["pairs", "--run-dir", run, "--top", "25", "--k", "5"], capsys)
    assert code == 0 and res["n_pairs"] == 25
    df = pd.read_csv(run / "pairs.csv")
    pd.testing.assert_frame_equal(df, hardest_pairs(x, y, top=25, k=5), check_dtype=False, atol=1e-6)
    with np.load(run / "class_pairs.npz") as z:
        assert z["difficult_counts"].shape == (4, 4)
        assert list(z["classes"]) == ["a", "b", "c", "d"]
        assert int(z["difficult_counts"].sum() // 2) == res["difficult_pairs"]
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=np.full(120, -1), y_test=y[:5])
    code, res = run_cli(["pairs", "--run-dir", run], capsys)
    assert code == 2 and "unlabelled" in res["error"]

"""Difficulty scores against brute-force references; AUROC against scikit-learn; the score CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.analysis import scores
from core.analysis.neighbors import l2_normalise
from core.analysis.scores import ScoreConfig, auroc, compute_scores, fit_prototypes, margin_score, prototype_score
from core.analysis.scoretable import (
    COMPUTED_SCORES,
    FREE_SCORES,
    META_COLUMNS,
    ORACLE_SCORES,
    SCORE_NAMES,
    SCORES,
    Score,
    score_label,
)
from core.errors import HardpairsError
from core.glossary import GLOSSARY, define
from core.io import save_npz, write_json
from tests.helpers import run_cli


def clustered(n=240, d=16, c=4, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((c, d)) * 2
    y = rng.integers(0, c, n)
    return (centres[y] + spread * rng.standard_normal((n, d))).astype(np.float32), y, centres


def brute_cross_class(xn, y, k):
    s = xn @ xn.T
    n = len(y)
    out = np.empty(n)
    for i in range(n):
        same = np.sort(s[i, (y == y[i]) & (np.arange(n) != i)])[::-1][:k]
        other = np.sort(s[i, y != y[i]])[::-1][:k]
        out[i] = (other.mean() if len(other) else -1.0) - (same.mean() if len(same) else -1.0)
    return out


def test_scores_equal_brute_force():
    x, y, _ = clustered()
    y[0] = 7  # a singleton class: no same-class neighbour counts as similarity -1
    xn = l2_normalise(x)
    proba = np.random.default_rng(3).dirichlet(np.ones(8), size=len(y)).astype(np.float32)
    cfg = ScoreConfig(pos_high=0.2, pos_low=0.4, k=5, seed=11, block=64)
    df = compute_scores(x, y, cfg, probe_proba=proba)
    assert list(df.columns) == ["index", "label", "band", "cross_class", "margin", "prototype", "random"]
    s = xn @ xn.T
    off = ~np.eye(len(y), dtype=bool)
    v = -np.sort(-s[off])
    t_hi, t_lo = v[math.ceil(0.2 * len(v)) - 1], v[math.ceil(0.4 * len(v)) - 1]
    np.testing.assert_array_equal(
        df["band"], (((s >= t_lo) & (s < t_hi) & off).sum(1) / (len(y) - 1)).astype(np.float32)
    )
    assert df.attrs["t_hi"] == t_hi and df.attrs["t_lo"] == t_lo
    np.testing.assert_allclose(df["cross_class"], brute_cross_class(xn, y, 5), atol=1e-5)
    top = np.sort(proba, axis=1)[:, ::-1]
    np.testing.assert_allclose(df["margin"], 1 - (top[:, 0] - top[:, 1]), atol=1e-6)
    np.testing.assert_array_equal(df["random"], np.random.default_rng(11).random(len(y)).astype(np.float32))
    assert df.attrs["n_prototypes"] == 5  # classes present, the singleton included
    again = compute_scores(x, y, cfg, probe_proba=proba)
    pd.testing.assert_frame_equal(df, again)  # seeded: k-means and all


def test_prototype_score_brute_force():
    x, _, centres = clustered(n=50)
    xn = l2_normalise(x)
    cn = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    sims = xn @ cn.T
    srt = np.sort(sims, axis=1)
    np.testing.assert_allclose(prototype_score(xn, centres.astype(np.float32)), srt[:, -2] - srt[:, -1], atol=1e-6)
    cents = fit_prototypes(xn, 4, seed=0)
    assert cents.shape == (4, 16) and np.allclose(np.linalg.norm(cents, axis=1), 1, atol=1e-4)


def test_margin_orientation():
    np.testing.assert_allclose(margin_score(np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25]])), [0.15, 0.95], atol=1e-6)


def test_unlabelled_gives_label_free_scores_only():
    x, _, _ = clustered(n=120)
    df = compute_scores(x, np.full(120, -1), ScoreConfig(k=5))
    assert list(df.columns) == ["index", "label", "band", "prototype", "random"]
    assert (df["label"] == -1).all()
    assert df.attrs["n_prototypes"] == round(1 / 0.15)
    part = np.r_[np.zeros(60, int), np.full(60, -1)]  # partly labelled: label-free only
    df = compute_scores(x, part, ScoreConfig(k=5))
    assert "cross_class" not in df and (df["label"].to_numpy() == part).all()


def test_bad_inputs():
    x, y, _ = clustered(n=20)
    with pytest.raises(HardpairsError, match="k=20 neighbours need more than k samples"):
        compute_scores(x, y, ScoreConfig(k=20))
    with pytest.raises(HardpairsError, match="pos_high < pos_low"):
        compute_scores(x, y, ScoreConfig(k=3, pos_high=0.3, pos_low=0.2))
    with pytest.raises(HardpairsError, match="model collapsed"):
        compute_scores(np.zeros((20, 4)), y, ScoreConfig(k=3))


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 300).astype(float)  # heavy ties
    pos = rng.random(300) < 0.3
    assert auroc(score, pos) == pytest.approx(roc_auc_score(pos, score), abs=1e-12)
    cont = rng.random(300) + pos
    assert auroc(cont, pos) == pytest.approx(roc_auc_score(pos, cont), abs=1e-12)
    assert auroc(np.ones(10), np.arange(10) < 3) == 0.5
    assert math.isnan(auroc(np.ones(5), np.zeros(5, bool)))


def mixed_features(seed=0, n=600, c=5, d=32, omega=0.2):
    """Clusters per class; 'mixed' points sit halfway between their class and another class."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((c, d)) * 3
    y = rng.integers(0, c, n)
    mixed = rng.random(n) < omega
    partner = (y + rng.integers(1, c, n)) % c
    base = np.where(mixed[:, None], 0.5 * (centres[y] + centres[partner]), centres[y])
    return (base + rng.standard_normal((n, d))).astype(np.float32), y, mixed


def test_mixed_points_are_found():
    x, y, mixed = mixed_features()
    df = compute_scores(x, y, ScoreConfig(pos_high=0.2, pos_low=0.4, k=10))
    aucs = {c: auroc(df[c].to_numpy(), mixed) for c in ("band", "cross_class", "margin", "prototype", "random")}
    assert aucs["cross_class"] >= 0.9
    assert aucs["band"] >= 0.65
    assert abs(aucs["random"] - 0.5) < 0.1


def make_run(root, x, y, cfg):
    root.mkdir(parents=True)
    write_json(root / "config.json", cfg)
    save_npz(root / "features.npz", train=x, test=x[:10], y_train=y, y_test=y[:10])
    return root


def test_score_cli_writes_csv_and_caches(tmp_path, capsys):
    x, y, _ = clustered(n=150)
    run = make_run(tmp_path / "r", x, y, {"pos_high": 0.2, "pos_low": 0.3, "seed": 3, "dataset": "digits"})
    code, res = run_cli(["score", "--run-dir", run, "--k", "5"], capsys)
    assert code == 0 and res["n"] == 150 and res["cached"] is False
    assert res["scores"] == ["band", "cross_class", "margin", "prototype", "random"]
    df = pd.read_csv(run / "scores.csv")
    ref = compute_scores(x, y, ScoreConfig(pos_high=0.2, pos_low=0.3, k=5, seed=3))
    np.testing.assert_allclose(df["band"], ref["band"], atol=1e-6)
    np.testing.assert_array_equal(df["label"], y)
    code, res2 = run_cli(["score", "--run-dir", run, "--k", "5"], capsys)
    assert res2["cached"] is True and res2["t_hi"] == res["t_hi"]
    code, res3 = run_cli(["score", "--run-dir", run, "--k", "6"], capsys)
    assert res3["cached"] is False


def test_score_cli_unlabelled_and_bad_inputs(tmp_path, capsys):
    x, y, _ = clustered(n=60)
    run = make_run(tmp_path / "u", x, np.full(60, -1), {"seed": 0})
    code, res = run_cli(["score", "--run-dir", run, "--k", "5"], capsys)
    assert code == 0 and res["scores"] == ["band", "prototype", "random"]
    assert "unlabelled" in res["note"]
    code, res = run_cli(["score", "--run-dir", run, "--k", "60", "--force"], capsys)
    assert code == 2 and "k=60" in res["error"]
    bare = tmp_path / "bare"
    bare.mkdir()
    write_json(bare / "config.json", {})
    code, res = run_cli(["score", "--run-dir", bare], capsys)
    assert code == 2 and f"python -m core probe --run-dir {bare}" in res["error"]


def test_score_cli_mixed_digits_auroc(tmp_path, capsys):
    from core.data.sources import load_dataset

    data = load_dataset("digits", mix=0.2, mix_lambda=0.5, seed=0)
    x = data.x_train.reshape(len(data.x_train), -1).astype(np.float32)  # pixels as features
    run = make_run(
        tmp_path / "m",
        x,
        data.y_train,
        {"dataset": "digits", "mix": 0.2, "mix_lambda": 0.5, "seed": 0, "pos_high": 0.1, "pos_low": 0.17},
    )
    code, res = run_cli(["score", "--run-dir", run], capsys)
    assert code == 0
    df = pd.read_csv(run / "scores.csv")
    np.testing.assert_array_equal(df["mixed"].to_numpy(), data.mixed)
    assert res["auroc"]["cross_class"] >= 0.9 and res["auroc"]["band"] >= 0.65
    assert res["auroc"]["random"] == pytest.approx(auroc(df["random"], data.mixed))


def test_score_and_pairs_on_a_real_run(tiny_run_copy, capsys):
    code, res = run_cli(["score", "--run-dir", tiny_run_copy], capsys)
    assert code == 0, res
    df = pd.read_csv(tiny_run_copy / "scores.csv")
    assert len(df) == res["n"] and df.columns[:3].tolist() == ["index", "label", "band"]
    assert df["band"].between(0, 1).all() and df["margin"].between(0, 1).all()
    assert -1 <= res["t_lo"] < res["t_hi"] <= 1
    code, res = run_cli(["pairs", "--run-dir", tiny_run_copy, "--top", "50"], capsys)
    assert code == 0 and res["n_pairs"] == 50
    pairs = pd.read_csv(tiny_run_copy / "pairs.csv")
    assert (pairs["label_i"] != pairs["label_j"]).all()
    assert pairs["similarity"].is_monotonic_decreasing


def test_score_table_computed_columns_and_glossary_agree():
    """scores.csv's columns are the table's computed rows in order; each row resolves, is labelled and defined."""
    x, y, _ = clustered(n=120)
    labelled = compute_scores(x, y, ScoreConfig(k=5))
    assert tuple(c for c in labelled.columns if c not in META_COLUMNS) == COMPUTED_SCORES
    unlabelled = compute_scores(x, None, ScoreConfig(k=5))
    assert tuple(c for c in unlabelled.columns if c not in META_COLUMNS) == FREE_SCORES
    assert SCORE_NAMES == COMPUTED_SCORES + ORACLE_SCORES and ORACLE_SCORES == ("mixed",)
    for row in SCORES:
        assert callable(row.resolve()) and row.direction in (1, -1)
        assert GLOSSARY[row.name] == ("score", row.help) and define(row.name) == row.help
        assert score_label(row.name) == row.label and row.label.startswith(row.name)
    assert "oracle" in score_label("mixed") and "uses labels" in score_label("margin")
    assert score_label("tag:keepers") == "tag:keepers"


def easiness(inputs: scores.ScoreInputs) -> np.ndarray:
    """A score function returning an easiness: the cosine to the mean feature (for the row below)."""
    centre = inputs.xn.mean(axis=0)
    return inputs.xn @ (centre / np.linalg.norm(centre))


def test_a_new_row_is_computed_and_oriented_by_its_direction(monkeypatch):
    """Adding a score is a row: compute_scores computes it, negated when its function returns an easiness."""
    row = Score(
        "atypical", "atypical (label-free)", "1 - cosine to the mean.", False, f"{__name__}:easiness", direction=-1
    )
    monkeypatch.setattr(scores, "SCORES", (*SCORES, row))
    x, y, _ = clustered(n=80)
    df = compute_scores(x, y, ScoreConfig(k=5))
    assert list(df.columns)[-1] == "atypical"
    xn = l2_normalise(x)
    centre = xn.mean(axis=0)
    np.testing.assert_allclose(df["atypical"], -(xn @ (centre / np.linalg.norm(centre))), rtol=1e-5, atol=1e-6)

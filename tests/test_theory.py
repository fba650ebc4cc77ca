"""Bounds of the paper against hand arithmetic and the block model's spectrum; alpha/beta/gamma
against a brute-force N x N computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from core.analysis import bounds as bd
from core.analysis import theory as th
from core.errors import HardpairsError

A, B, G, N, ND, R, DELTA = 0.5, 0.1, 0.3, 100, 8, 9, 0.1


def test_bounds_match_hand_arithmetic():
    # c2 = (1 - 0.5) + 100 * 0.5 + 100 * 9 * 0.1 = 0.5 + 50 + 90 = 140.5
    lam_clean = 0.5 / 140.5
    assert bd.lambda_clean(A, B, N, R) == pytest.approx(lam_clean, rel=1e-12)
    assert bd.bound_clean(A, B, N, R, DELTA) == pytest.approx(0.4 / (1 - lam_clean) + 0.8, rel=1e-12)
    # c1 = 140.5 + 8 * 9 * 0.2 = 140.5 + 14.4 = 154.9; numerator = 0.5 + 9 * 0.2 = 2.3
    lam_diff = 2.3 / 154.9
    assert bd.bound_difficult(A, B, G, N, ND, R, DELTA) == pytest.approx(0.4 / (1 - lam_diff) + 0.8, rel=1e-12)
    # removal: n - n_d = 92 -> 0.5 + 92 * 0.5 + 92 * 9 * 0.1 = 0.5 + 46 + 82.8 = 129.3
    lam_rem = 0.5 / 129.3
    assert bd.bound_removal(A, B, N, ND, R, DELTA) == pytest.approx(0.4 / (1 - lam_rem) + 0.8, rel=1e-12)
    # temperature: (n_d/n)^2 = 0.0064, (gamma/beta)^2 = 9 -> factor 1 - 0.0064 + 0.0576 = 1.0512
    expected_t = 1.0512 * 0.4 / (1 - lam_clean) + 0.8
    assert bd.bound_temperature(A, B, G, N, ND, R, DELTA) == pytest.approx(expected_t, rel=1e-12)
    # threshold: a = 0.5, S = 0.5 + 0.9 = 1.4, m = 92 -> 0.5*8*1.4 / (9 * (0.5 + 128.8 - 4)) = 5.6 / 1127.7
    assert bd.removal_threshold(A, B, N, ND, R) == pytest.approx(5.6 / 1127.7, rel=1e-12)


def test_limits_gamma_equals_beta_and_no_difficult():
    assert bd.bound_difficult(A, B, B, N, ND, R, DELTA) == pytest.approx(bd.bound_clean(A, B, N, R, DELTA), rel=1e-12)
    assert bd.bound_removal(A, B, N, 0, R, DELTA) == pytest.approx(bd.bound_clean(A, B, N, R, DELTA), rel=1e-12)
    assert bd.bound_temperature(A, B, B, N, ND, R, DELTA) == pytest.approx(bd.bound_clean(A, B, N, R, DELTA), rel=1e-12)
    assert bd.removal_threshold(A, B, N, 0, R) == 0.0


def test_monotone_in_gamma_minus_beta():
    gammas = np.linspace(B, 0.49, 12)
    diff = [bd.bound_difficult(A, B, g, N, ND, R, DELTA) for g in gammas]
    temp = [bd.bound_temperature(A, B, g, N, ND, R, DELTA) for g in gammas]
    assert np.all(np.diff(diff) > 0) and np.all(np.diff(temp) > 0)
    assert all(d > bd.bound_clean(A, B, N, R, DELTA) for d in diff[1:])


@pytest.mark.parametrize("seed", range(5))
def test_threshold_agrees_with_comparing_bounds(seed):
    """The paper's Eq. 5 condition, solved for gamma - beta, is exactly bound_removal < bound_difficult."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        b = rng.uniform(0, 0.4)
        a = rng.uniform(b + 0.05, 0.95)
        g = rng.uniform(b, a)
        n = int(rng.integers(2, 300))
        nd = int(rng.integers(1, n))
        r = int(rng.integers(1, 20))
        by_bounds = bd.bound_removal(a, b, n, nd, r, DELTA) < bd.bound_difficult(a, b, g, n, nd, r, DELTA)
        assert bd.removal_beats_keeping(a, b, g, n, nd, r) == by_bounds
        # the paper's implicit form with gamma on the right-hand side, as printed in Eq. 5
        paper = g - b > nd * (1 - a) * (a + r * g) / (r * ((1 - a) + (n - nd) * (a + r * b)))
        assert paper == by_bounds


def _spectrum(sim: np.ndarray) -> np.ndarray:
    deg = sim.sum(1)
    return np.sort(np.linalg.eigvalsh(sim / np.sqrt(deg[:, None] * deg[None, :])))[::-1]


@pytest.mark.parametrize("n,r", [(5, 2), (7, 3), (4, 1)])
def test_clean_spectrum_matches_theorem_3_3(n, r):
    ev = _spectrum(bd.block_similarity_matrix(A, B, B, n, 0, r))
    c2 = (1 - A) + n * A + n * r * B
    assert ev[0] == pytest.approx(1.0)
    assert np.allclose(ev[1 : r + 1], ((1 - A) + n * (A - B)) / c2)
    for k in range(r + 1, n * (r + 1)):  # the theorem's k > r: lambda_{k+1} is ev[k] (0-based)
        assert ev[k] == pytest.approx(bd.lambda_clean(A, B, n, r), rel=1e-10)


def test_difficult_spectrum_qualitative_claims_full_gamma_block():
    """For the full n_d x n_d gamma block, Thm 3.4's qualitative claims hold numerically.

    The paper's closed form for lambda_{k+1} is not the exact eigenvalue (see core/analysis/theory.py);
    here it is 0.1636 while the matrix gives 0.1930, so only the claims are tested.
    """
    n, nd, r = 6, 2, 2
    clean = bd.lambda_clean(A, B, n, r)
    prev = clean
    for g in (B, 0.2, 0.3, 0.4):
        lam = _spectrum(bd.block_similarity_matrix(A, B, g, n, nd, r, "full"))[r + 1]
        if g == B:
            assert lam == pytest.approx(clean, rel=1e-10)
        else:
            assert lam > prev
        prev = lam
    # the paper's closed form: (0.5 + 2 * 0.2) / (0.5 + 3 + 1.2 + 2 * 2 * 0.2) = 0.9 / 5.5
    assert bd.lambda_difficult(A, B, 0.3, n, nd, r) == pytest.approx(0.9 / 5.5, rel=1e-12)
    assert _spectrum(bd.block_similarity_matrix(A, B, 0.3, n, nd, r, "full"))[r + 1] == pytest.approx(0.19304, abs=1e-5)


def test_invalid_inputs_raise_clear_errors():
    with pytest.raises(HardpairsError, match="beta <= gamma < alpha < 1"):
        bd.bound_difficult(0.2, 0.3, 0.25, N, ND, R, DELTA)
    with pytest.raises(HardpairsError, match="n_d <= n"):
        bd.bound_difficult(A, B, G, 10, 11, R, DELTA)
    with pytest.raises(HardpairsError, match="n_d >= 1"):
        bd.bound_difficult(A, B, G, N, 0, R, DELTA)
    with pytest.raises(HardpairsError, match="need n_d < n"):
        bd.bound_removal(A, B, 10, 10, R, DELTA)
    with pytest.raises(HardpairsError, match="delta"):
        bd.bound_clean(A, B, N, R, 1.5)
    with pytest.raises(HardpairsError, match="beta > 0"):
        bd.bound_temperature(A, 0.0, G, N, ND, R, DELTA)
    out = bd.evaluate_bounds(0.2, 0.3, 0.25, N, ND, R)
    assert out["bound_clean"] is None and "alpha" in out["bound_errors"]["bound_clean"]


def _brute_force(x, labels, hard):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = xn.astype(np.float64) @ xn.T.astype(np.float64)
    iu = np.triu_indices(len(x), 1)
    s, same = sim[iu], labels[iu[0]] == labels[iu[1]]
    h0, h1 = hard[iu[0]], hard[iu[1]]
    beta_s, gamma_s = s[~same & ~h0 & ~h1], s[~same & (h0 | h1)]
    return dict(
        alpha=s[same].mean(),
        beta=beta_s.mean(),
        gamma=gamma_s.mean(),
        gamma_both=s[~same & h0 & h1].mean(),
        test=stats.ttest_ind(beta_s, gamma_s, equal_var=False),
        pairs_gamma=gamma_s.size,
        pairs_beta=beta_s.size,
    )


def _toy(seed=0, n=300, c=4, d=16):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    x = (rng.normal(size=(c, d))[labels] + rng.normal(size=(n, d))).astype(np.float32)
    logits = rng.normal(size=(n, c)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return x, labels, proba


def test_difficult_mask_flags_smallest_gap_per_class():
    labels = np.array([0] * 25 + [1] * 13)
    gap = np.concatenate([np.arange(25) / 100, np.arange(13)[::-1] / 100])
    proba = np.stack([0.5 + gap / 2, 0.5 - gap / 2], 1)
    hard = th.difficult_mask(labels, proba, 0.08)
    # round(0.08 * 25) = 2 in class 0 (gaps 0.00, 0.01 at indexes 0, 1); max(1, round(1.04)) = 1 in class 1
    assert np.flatnonzero(hard).tolist() == [0, 1, 37]


def test_estimate_abg_equals_brute_force():
    x, labels, proba = _toy()
    out = th.estimate_abg(x, labels, proba, difficult_share=0.1)
    ref = _brute_force(x, labels, th.difficult_mask(labels, proba, 0.1))
    for key in ("alpha", "beta", "gamma", "gamma_both"):
        assert out[key] == pytest.approx(ref[key], abs=1e-6)
    assert out["gamma_minus_beta"] == pytest.approx(ref["gamma"] - ref["beta"], abs=1e-6)
    assert out["t"] == pytest.approx(ref["test"].statistic, rel=1e-5)
    assert out["p"] == pytest.approx(ref["test"].pvalue, rel=1e-4, abs=1e-12)
    assert out["pairs_gamma"] == ref["pairs_gamma"] and out["pairs_beta"] == ref["pairs_beta"]
    assert not out["t_test_sampled"]
    assert out["pairs_alpha"] + out["pairs_beta"] + out["pairs_gamma"] == 300 * 299 // 2


def test_estimate_abg_sampled_t_test_is_seeded():
    x, labels, proba = _toy(seed=1, n=400)
    full = th.estimate_abg(x, labels, proba)
    a = th.estimate_abg(x, labels, proba, max_pairs=3000, seed=5)
    b = th.estimate_abg(x, labels, proba, max_pairs=3000, seed=5)
    assert a["t_test_sampled"] and a["t_test_pairs_beta"] == 3000 and a["t_test_pairs_gamma"] == 3000
    assert a["t"] == b["t"] and a["alpha"] == full["alpha"] and a["gamma"] == full["gamma"]
    assert a["t"] != th.estimate_abg(x, labels, proba, max_pairs=3000, seed=6)["t"]


def test_pair_sample_is_uniform_over_each_pair_set():
    """With replacement, a large sample's mean and its share of both-difficult pairs match the exact pair sets."""
    x, labels, proba = _toy(seed=1, n=400)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    hard = th.difficult_mask(labels, proba)
    iu = np.triu_indices(len(x), 1)
    sim = (xn @ xn.T).astype(np.float64)[iu]
    cross = labels[iu[0]] != labels[iu[1]]
    h0, h1 = hard[iu[0]], hard[iu[1]]
    m = 200_000
    rng = np.random.default_rng(0)
    for group, sel in (("beta", cross & ~h0 & ~h1), ("gamma", cross & (h0 | h1))):
        sample = th._pair_sample(xn, labels, hard, group, 10**9, m, rng)
        assert sample.size == m
        assert sample.mean() == pytest.approx(sim[sel].mean(), abs=4 * sim[sel].std() / math.sqrt(m))
    # both-difficult pairs: the sample's share equals their share of the gamma set
    both = cross & h0 & h1
    sample = th._pair_sample(xn, labels, hard, "gamma", 10**9, m, rng)
    share = both.sum() / (cross & (h0 | h1)).sum()
    values = np.round(sim[both], 6)
    got = np.isin(np.round(sample, 6), values).mean()
    assert got == pytest.approx(share, abs=4 * math.sqrt(share * (1 - share) / m) + 0.01)


def test_estimate_abg_bad_input():
    x, labels, proba = _toy()
    with pytest.raises(HardpairsError, match="constant"):
        th.estimate_abg(np.zeros_like(x), labels, proba)
    with pytest.raises(HardpairsError, match="two classes"):
        th.estimate_abg(x, np.zeros_like(labels), proba)
    with pytest.raises(HardpairsError, match="predict_proba"):
        th.estimate_abg(x, labels, proba[:10])


@pytest.mark.slow
def test_theory_cli_on_a_real_run(tiny_run_copy, capsys):
    from core.analysis.probe import ProbeConfig, linear_probe_accuracy
    from core.io import read_json
    from core.rundir.featurefile import open_features
    from tests.helpers import run_cli

    code, out = run_cli(["theory", "--run-dir", tiny_run_copy, "--delta", "0.2"], capsys)
    assert code == 0 and out["cached"] is False
    saved = read_json(tiny_run_copy / "theory.json")
    feats = open_features(tiny_run_copy)
    _, probe = linear_probe_accuracy(
        feats["train"],
        feats["y_train"],
        feats["test"],
        feats["y_test"],
        ProbeConfig(seed=read_json(tiny_run_copy / "config.json")["seed"]),
    )
    ref = th.estimate_abg(feats["train"], feats["y_train"], probe.predict_proba(feats["train"]))
    for key in ("alpha", "beta", "gamma", "gamma_minus_beta", "t", "n_difficult"):
        assert saved[key] == pytest.approx(ref[key], rel=1e-9)
    assert saved["r"] == 9 and saved["delta"] == 0.2 and "illustrative" in saved["delta_note"]
    assert saved["n"] == pytest.approx(len(feats["y_train"]) / 10)
    for key in ("bound_clean", "bound_difficult", "bound_removal", "removal_threshold", "removal_beats_keeping"):
        assert key in saved and (saved[key] is not None or key in saved["bound_errors"])
    if saved["bound_clean"] is not None:
        assert saved["bound_clean"] == pytest.approx(bd.bound_clean(saved["alpha"], saved["beta"], saved["n"], 9, 0.2))
    code, again = run_cli(["theory", "--run-dir", tiny_run_copy, "--delta", "0.2"], capsys)
    assert code == 0 and again["cached"] is True and again["alpha"] == saved["alpha"]
    code, bad = run_cli(["theory", "--run-dir", tiny_run_copy, "--difficult-share", "1.5"], capsys)
    assert code == 2 and "difficult-share" in bad["error"]

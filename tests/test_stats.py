"""core.analysis.stats against hand-worked numbers, scipy.stats.binomtest and a brute-force bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from core.analysis import stats
from core.errors import HardpairsError


def test_seed_summary_matches_a_hand_computed_t_interval():
    s = stats.seed_summary([0.90, 0.92, 0.97])
    mean = (0.90 + 0.92 + 0.97) / 3
    sd = math.sqrt(((0.90 - mean) ** 2 + (0.92 - mean) ** 2 + (0.97 - mean) ** 2) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t_{0.975, 2} from a printed table
    assert s.n == 3 and s.mean == pytest.approx(mean) and s.std == pytest.approx(sd)
    assert (s.ci_low, s.ci_high) == pytest.approx((mean - half, mean + half))
    assert s.note is None


def test_seed_summary_one_seed_says_the_interval_is_undefined():
    s = stats.seed_summary([0.9])
    assert (s.n, s.mean, s.std, s.ci_low, s.ci_high) == (1, 0.9, None, None, None)
    assert "undefined" in s.note and "n=1" in s.note
    with pytest.raises(HardpairsError, match="no values"):
        stats.seed_summary([])
    with pytest.raises(HardpairsError, match="NaN"):
        stats.seed_summary([0.9, float("nan")])


@pytest.mark.parametrize("b, c", [(3, 10), (0, 5), (7, 7), (1, 0), (20, 40), (0, 0), (12, 1)])
def test_mcnemar_equals_scipy_binomtest(b, c):
    want = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
    assert stats.mcnemar_exact(b, c) == pytest.approx(want, rel=1e-12)


def test_mcnemar_hand_worked_two_by_two_table():
    # A right / B wrong: 1 sample, A wrong / B right: 4 samples -> p = 2 * (1 + 5) / 2^5 = 0.375
    y = np.zeros(10, int)
    pred_a = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])  # right on 0..5
    pred_b = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])  # wrong on 0 only
    assert stats.discordant(pred_a == y, pred_b == y) == (1, 4)
    out = stats.paired_comparison(y, pred_a, pred_b, n_boot=2000)
    assert out["b"] == 1 and out["c"] == 4 and out["mcnemar_p"] == pytest.approx(0.375)
    assert out["acc_a"] == 0.6 and out["acc_b"] == 0.9 and out["diff"] == pytest.approx(-0.3)
    assert out["n_test"] == 10 and out["point"] == pytest.approx(10.0)


def brute_bootstrap(ca, cb, n_boot, seed):
    rng = np.random.default_rng(seed)
    m = len(ca)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, m, m)
        diffs.append(ca[idx].mean() - cb[idx].mean())
    return np.percentile(diffs, [2.5, 97.5])


def test_bootstrap_interval_matches_index_resampling():
    rng = np.random.default_rng(3)
    ca = rng.random(400) < 0.85
    cb = np.where(rng.random(400) < 0.9, ca, ~ca)  # mostly the same answers: a paired design
    low, high = stats.bootstrap_diff_interval(ca, cb, n_boot=8000, seed=1)
    ref = brute_bootstrap(ca, cb, 8000, seed=2)
    assert low == pytest.approx(ref[0], abs=0.004) and high == pytest.approx(ref[1], abs=0.004)
    # seeded: the same seed gives the same interval
    assert stats.bootstrap_diff_interval(ca, cb, n_boot=8000, seed=1) == (low, high)
    # identical answers: the difference is exactly 0 in every resample
    assert stats.bootstrap_diff_interval(ca, ca, n_boot=100) == (0.0, 0.0)


def test_verdict_reads_the_interval():
    assert stats.verdict((0.001, 0.02)) == "better"
    assert stats.verdict((-0.02, -0.001)) == "worse"
    assert stats.verdict((-0.01, 0.02)) == "within noise"
    assert stats.verdict((0.0, 0.02)) == "within noise"  # touching 0 is not a difference
    assert stats.verdict(None) is None


def test_paired_comparison_clear_difference_and_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000)
    good = np.where(rng.random(2000) < 0.95, y, (y + 1) % 10)
    bad = np.where(rng.random(2000) < 0.80, y, (y + 1) % 10)
    out = stats.paired_comparison(y, good, bad)
    assert out["verdict"] == "better" and out["mcnemar_p"] < 1e-6 and out["ci_low"] > 0.1
    assert stats.paired_comparison(y, bad, good)["verdict"] == "worse"
    flip = good.copy()
    flip[:3] = (y[:3] + 1) % 10  # three images differ: far inside the noise
    assert stats.paired_comparison(y, good, flip)["verdict"] == "within noise"
    with pytest.raises(HardpairsError, match="same test set"):
        stats.paired_comparison(y, good, bad[:10])

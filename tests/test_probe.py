"""Linear probe against scikit-learn; weighted kNN against a brute-force NumPy vote."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.analysis.probe import ProbeConfig, fit_linear_probe, knn_accuracy, linear_probe_accuracy
from core.errors import HardpairsError


def blobs(n=400, d=12, c=3, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((c, d)) * 3
    y = rng.integers(0, c, n)
    return (centres[y] + spread * rng.standard_normal((n, d)) + 5).astype(np.float32), y


def test_probe_matches_sklearn_on_separable_and_noisy_data():
    for spread, seed in ((0.5, 0), (2.5, 1)):
        x, y = blobs(spread=spread, seed=seed)
        xt, yt = x[:300], y[:300]
        xs, ys = x[300:], y[300:]
        acc, probe = linear_probe_accuracy(xt, yt, xs, ys, ProbeConfig(device="cpu"))
        mu, sd = xt.mean(0), xt.std(0)
        sk = LogisticRegression(max_iter=2000).fit((xt - mu) / sd, yt)
        sk_acc = sk.score((xs - mu) / sd, ys)
        if spread == 0.5:
            assert acc == sk_acc == 1.0
        else:
            assert abs(acc - sk_acc) <= 0.03 and acc > 0.7
        p = probe.predict_proba(xs)
        assert p.shape == (100, 3) and p.dtype == np.float32
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
        assert probe.weight.shape == (3, 12) and probe.mean.shape == (12,)


def test_probe_is_deterministic_and_handles_constant_dims():
    x, y = blobs()
    x[:, 0] = 4.0  # a constant dimension keeps std 1 instead of dividing by zero
    a = fit_linear_probe(x, y, 3, ProbeConfig(seed=5))
    b = fit_linear_probe(x, y, 3, ProbeConfig(seed=5))
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)
    assert a.std[0] == 1.0 and np.isfinite(a.weight).all()


def test_probe_bad_labels():
    x, y = blobs(n=50)
    with pytest.raises(HardpairsError, match="unlabelled"):
        fit_linear_probe(x, np.full(50, -1), 3)
    with pytest.raises(HardpairsError, match="at least two classes"):
        fit_linear_probe(x, np.zeros(50, int), 3)


def brute_knn_acc(xt, yt, xs, ys, k, t):
    a = xt / np.linalg.norm(xt, axis=1, keepdims=True)
    b = xs / np.linalg.norm(xs, axis=1, keepdims=True)
    s = b @ a.T
    correct = 0
    for i in range(len(xs)):
        nn = np.argsort(-s[i], kind="stable")[:k]
        votes = np.zeros(yt.max() + 1)
        for j in nn:
            votes[yt[j]] += np.exp(s[i, j] / t)
        correct += votes.argmax() == ys[i]
    return correct / len(xs)


def test_knn_accuracy_matches_brute_force():
    x, y = blobs(spread=3.0, seed=2)
    for k, t in ((20, 0.07), (5, 0.5), (1, 0.1)):
        got = knn_accuracy(x[:300], y[:300], x[300:], y[300:], k=k, t=t)
        assert got == pytest.approx(brute_knn_acc(x[:300], y[:300], x[300:], y[300:], k, t))
    with pytest.raises(HardpairsError, match="k=301"):
        knn_accuracy(x[:300], y[:300], x[300:], y[300:], k=301)

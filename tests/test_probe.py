"""Linear probe against scikit-learn; weighted kNN against a brute-force NumPy vote."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.analysis.probe import ProbeConfig, fit_linear_probe, knn_predict, linear_probe_accuracy
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


def knn_accuracy(x_train, y_train, x_test, y_test, k=20, t=0.07):
    """Top-1 accuracy of ``core.analysis.probe.knn_predict`` (the product's kNN vote)."""
    return float((knn_predict(x_train, y_train, x_test, k=k, t=t) == np.asarray(y_test)).mean())


def test_knn_accuracy_matches_brute_force():
    x, y = blobs(spread=3.0, seed=2)
    for k, t in ((20, 0.07), (5, 0.5), (1, 0.1)):
        got = knn_accuracy(x[:300], y[:300], x[300:], y[300:], k=k, t=t)
        assert got == pytest.approx(brute_knn_acc(x[:300], y[:300], x[300:], y[300:], k, t))
    with pytest.raises(HardpairsError, match="k=301"):
        knn_accuracy(x[:300], y[:300], x[300:], y[300:], k=301)


# ---- protocols, kNN k/t, per-sample predictions (issue 12) -------------------------------------


def test_paper_protocol_reaches_lbfgs_accuracy_and_is_deterministic():
    from core.analysis.probe_sgd import l2_normalise

    x, y = blobs(n=900, d=16, c=4, seed=4, spread=2.0)
    args = (x[:600], y[:600], x[600:], y[600:])
    fast, _ = linear_probe_accuracy(*args, ProbeConfig(device="cpu"))
    paper_cfg = ProbeConfig(protocol="paper", lr=1.0, batch_size=512, seed=3, device="cpu")
    paper, probe = linear_probe_accuracy(*args, paper_cfg)
    assert fast > 0.9 and abs(paper - fast) <= 0.03
    assert probe.l2 and probe.weight.shape == (4, 16) and probe.weight.dtype == np.float32
    # predictions use the L2-normalised inputs the probe was trained on
    logits = l2_normalise(x[600:]) @ probe.weight.T + probe.bias
    np.testing.assert_array_equal(probe.predict(x[600:]), logits.argmax(1))
    again = fit_linear_probe(x[:600], y[:600], 4, paper_cfg)
    np.testing.assert_array_equal(again.weight, probe.weight)
    other = fit_linear_probe(x[:600], y[:600], 4, ProbeConfig(protocol="paper", seed=4, device="cpu"))
    assert not np.array_equal(other.weight, probe.weight)  # the seed sets the shuffling
    with pytest.raises(HardpairsError, match="unknown probe protocol"):
        fit_linear_probe(x, y, 4, ProbeConfig(protocol="adam"))


def test_probe_config_paper_settings_and_knn_presets():
    from core.analysis.probe import describe, probe_config

    assert (probe_config("cifar100", "paper").batch_size, probe_config("cifar100", "paper").lr) == (512, 0.1)
    assert (probe_config("cifar10", "paper").batch_size, probe_config("cifar10", "paper").lr) == (512, 1.0)
    assert (probe_config("stl10", "paper").batch_size, probe_config("stl10", "paper").lr) == (256, 0.1)
    assert probe_config("folder:/data/tiny-imagenet-200", "paper").lr == 0.1
    assert probe_config("digits", "paper").lr == 1.0
    from core.analysis.probe_sgd import paper_probe_settings

    # the spec's kind before ':' names the dataset (issue 22.2); folder:/npz: fall back to the folder's name
    assert paper_probe_settings("imagenet:/data/ILSVRC2012") == (1024, 1.0)
    assert paper_probe_settings("tinyimagenet:/data/tin") == (512, 0.1)
    assert paper_probe_settings("tinyimagenet") == (512, 0.1)
    assert paper_probe_settings("stl10+unlabeled") == (256, 0.1)
    assert paper_probe_settings("folder:/data/cifar100-jpg") == (512, 0.1)
    assert paper_probe_settings("npz:/data/x.npz") == (512, 1.0)
    c = probe_config("digits")
    assert (c.protocol, c.knn_k, c.knn_t) == ("lbfgs", 20, 0.07)
    j = probe_config("digits", knn_preset="jiang")
    assert (j.knn_k, j.knn_t) == (200, 0.5)
    assert probe_config("digits", knn_preset="jiang", knn_k=50).knn_k == 50
    assert describe(c) == {"protocol": "lbfgs", "epochs": 100, "knn_k": 20, "knn_t": 0.07}
    assert describe(probe_config("cifar100", "paper", seed=2))["lr"] == 0.1
    with pytest.raises(HardpairsError, match="--protocol"):
        probe_config("digits", "sgd")
    with pytest.raises(HardpairsError, match="--knn-preset"):
        probe_config("digits", knn_preset="dino")
    with pytest.raises(HardpairsError, match="t > 0"):
        probe_config("digits", knn_t=0.0)


def test_knn_predict_with_jiang_k_and_t_equals_brute_force_vote():
    from core.analysis.probe import knn_predict

    x, y = blobs(n=500, spread=4.0, seed=5)
    got = knn_predict(x[:300], y[:300], x[300:], k=200, t=0.5)
    a = x[:300] / np.linalg.norm(x[:300], axis=1, keepdims=True)
    b = x[300:] / np.linalg.norm(x[300:], axis=1, keepdims=True)
    s = b @ a.T
    want = []
    for i in range(len(b)):
        votes = np.zeros(3)
        for j in np.argsort(-s[i], kind="stable")[:200]:
            votes[y[j]] += np.exp(s[i, j] / 0.5)
        want.append(votes.argmax())
    assert (got == np.array(want)).mean() >= 0.99  # float32 ties at rank 200 may differ
    assert got.dtype == np.int64 and got.shape == (200,)


def test_probe_cli_paper_protocol_writes_predictions_and_records_settings(tiny_run, tmp_path, capsys):
    import shutil

    from core.io import read_json
    from tests.helpers import run_cli

    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)  # the session run stays as other tests expect it
    code, out = run_cli(["probe", "--run-dir", run, "--protocol", "paper", "--knn-preset", "jiang"], capsys)
    assert code == 0, out
    metrics = read_json(run / "metrics.json")
    assert metrics["protocol"] == "paper" and out["protocol"] == "paper"
    assert metrics["probe"]["knn_k"] == 200 and metrics["probe"]["knn_t"] == 0.5
    assert metrics["probe"]["batch_size"] == 512 and metrics["probe"]["lr"] == 1.0
    with np.load(run / "predictions.npz") as p:
        assert str(p["protocol"]) == "paper" and int(p["knn_k"]) == 200
        assert p["y_true"].shape == p["linear_pred"].shape == p["knn_pred"].shape
        assert metrics["linear_acc"] == pytest.approx((p["linear_pred"] == p["y_true"]).mean())
        assert metrics["knn_acc"] == pytest.approx((p["knn_pred"] == p["y_true"]).mean())
        with np.load(run / "features.npz") as f:
            np.testing.assert_array_equal(p["y_true"], f["y_test"])
    code, out = run_cli(["probe", "--run-dir", run, "--knn-k", "5", "--knn-t", "0.1"], capsys)
    metrics = read_json(run / "metrics.json")
    assert metrics["protocol"] == "lbfgs" and (metrics["probe"]["knn_k"], metrics["probe"]["knn_t"]) == (5, 0.1)
    code, out = run_cli(["probe", "--run-dir", run, "--knn-t", "-1"], capsys)
    assert code == 2 and "t > 0" in out["error"]

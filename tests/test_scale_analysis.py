"""The approximate analysis path (issue 13): IVF graph recall, sampled thresholds, reference band,
memory-mapped features, path records in every output, and the subsampled map."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from core.analysis.approx.graphtune import exact_rows, graph_recall, tuned_class_split_knn
from core.analysis.approx.mapscale import fit_indices, place_by_neighbours
from core.analysis.approx.sampled import band_against_reference, choose_knn, reference_rows, sample_thresholds
from core.analysis.band import band_sweep
from core.analysis.neighbors import class_split_knn, l2_normalise
from core.analysis.scores import ScoreConfig, compute_scores
from core.data.shards import ShardedArray, shard_index, shard_rows
from core.errors import HardpairsError
from core.io import save_npy, save_npz, write_json
from core.rundir.cache import features_fingerprint
from core.rundir.featurefile import feature_labels, feature_source, open_features
from tests.helpers import run_cli


def structured(n: int, d: int = 64, classes: int = 5, latent: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered features like an encoder's: class + sub-cluster centres on a low-dimensional latent, small noise."""
    rng = np.random.default_rng(seed)
    cc = rng.standard_normal((classes, latent)) * 1.2
    sc = rng.standard_normal((classes, 6, latent)) * 0.8
    w = rng.standard_normal((latent, d)) / np.sqrt(latent)
    y = rng.integers(0, classes, n)
    z = cc[y] + sc[y, rng.integers(0, 6, n)] + rng.standard_normal((n, latent))
    x = z @ w + 0.25 * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y.astype(np.int64)


def test_ivf_graph_recall_against_exact():
    x, y = structured(6000)
    graph, info = tuned_class_split_knn(x, y, 10, seed=0)
    exact = class_split_knn(x, y, 10)
    recall = graph_recall(graph, exact)
    assert recall >= 0.95
    assert info["method"] == "screen-ivf" and info["recall"] >= 0.95 and info["dims"] == 32
    assert min(info["recall_same"], info["recall_other"]) >= 0.95 and info["screen_recall"] >= 0.975
    assert 1 <= info["probe_same"] <= info["groups"] and 1 <= info["probe_other"] <= info["groups"]
    assert abs(info["recall"] - recall) < 0.05  # the sampled recall estimates the full one
    for side in ("same", "other"):  # the format of class_split_knn: descending, own/other class, no self
        sims, idx = graph[f"{side}_sims"], graph[f"{side}_idx"]
        assert sims.shape == (6000, 10) and idx.dtype == np.int64
        assert (np.diff(sims, axis=1) <= 1e-6).all()
        assert (idx != np.arange(6000)[:, None]).all()
        same = y[idx] == y[:, None]
        assert same.all() if side == "same" else (~same).all()
        np.testing.assert_allclose(sims, np.einsum("nd,nkd->nk", x, x[idx]), atol=1e-5)


def test_tuner_raises_screening_dims_when_the_data_needs_them():
    """Isotropic 64-d data has no low-dimensional structure: 32 screening dimensions lose neighbours,
    so the tuner doubles them to all 64 (exact screening) and still reaches the recall."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = rng.integers(0, 3, 3000)
    graph, info = tuned_class_split_knn(x, y, 5, seed=1)
    assert info["dims"] == 64 and info["recall"] >= 0.95
    assert graph_recall(graph, class_split_knn(x, y, 5)) >= 0.95
    fixed, fixed_info = tuned_class_split_knn(x, y, 5, seed=1, dims=16, probe=4)
    assert fixed_info["dims"] == 16 and fixed_info["probe_same"] == fixed_info["probe_other"] == 4
    assert fixed_info["recall"] < 0.95  # a fixed setting is used as is, and its (low) recall reported


def test_exact_rows_is_brute_force():
    x, y = structured(500)
    rows = np.array([0, 7, 123, 499])
    got = exact_rows(x, y, rows, 5, block=97)
    full = class_split_knn(x, y, 5)
    for key in ("same_idx", "other_idx"):
        np.testing.assert_array_equal(got[key], full[key][rows])
        sims = key.replace("idx", "sims")
        np.testing.assert_allclose(got[sims], full[sims][rows], atol=1e-5)
    assert graph_recall(full, got, rows) == 1.0


def test_sampled_thresholds_close_to_exact():
    x, _ = structured(3000)
    exact = band_sweep(x, 0.15, 0.22)
    est = sample_thresholds(x, 0.15, 0.22, n_pairs=1_000_000, seed=3)
    # stated tolerance: 0.005 (the benchmark target); the 95 % interval is recorded and brackets exact
    assert abs(est["t_hi"] - exact["t_hi"]) < 0.005 and abs(est["t_lo"] - exact["t_lo"]) < 0.005
    assert est["t_hi_ci"][0] - 1e-3 <= exact["t_hi"] <= est["t_hi_ci"][1] + 1e-3
    assert est["t_lo_ci"][0] - 1e-3 <= exact["t_lo"] <= est["t_lo_ci"][1] + 1e-3
    assert 0 < est["t_error"] < 0.005 and est["n_pairs"] == 1_000_000


def test_band_against_reference_brute_force():
    x, _ = structured(400)
    ref = reference_rows(400, 50, seed=1)
    t_hi, t_lo = 0.5, 0.2
    got = band_against_reference(x, t_hi, t_lo, ref, block=64)
    s = x @ x[ref].T
    want = np.empty(400)
    for i in range(400):
        keep = ref != i
        want[i] = ((s[i, keep] >= t_lo) & (s[i, keep] < t_hi)).sum() / keep.sum()
    np.testing.assert_allclose(got, want)


def test_choose_knn():
    assert choose_knn(100_000) == "exact" and choose_knn(100_001) == "approx"
    assert choose_knn(10, "approx") == "approx" and choose_knn(10**7, "exact") == "exact"
    with pytest.raises(HardpairsError, match="--knn"):
        choose_knn(10, "fast")


def test_compute_scores_records_path_and_exact_forces_exact():
    x, y = structured(1500)
    approx = compute_scores(x, y, ScoreConfig(k=5, knn="approx", n_pairs=300_000))
    info = approx.attrs["knn"]
    assert info["method"] == "approx" and info["knn_recall"] >= 0.95 and info["n_pairs"] == 300_000
    assert info["band_reference"] == 1500  # reference capped at N: every sample
    exact = compute_scores(x, y, ScoreConfig(k=5, knn="exact"))
    assert exact.attrs["knn"]["method"] == "exact"
    default = compute_scores(x, y, ScoreConfig(k=5))  # auto below the threshold = exact
    pd.testing.assert_frame_equal(exact, default)
    assert abs(approx.attrs["t_hi"] - exact.attrs["t_hi"]) < 0.01
    # every pair is in the reference, so band differs from exact only through the sampled thresholds
    assert np.corrcoef(approx["band"], exact["band"])[0, 1] > 0.95
    assert np.corrcoef(approx["cross_class"], exact["cross_class"])[0, 1] > 0.98  # recall >= 0.95, not 1


def test_open_features_memory_maps(tmp_path):
    run = tmp_path / "r"
    x, y = structured(300)
    write_json(run / "config.json", {})
    save_npz(run / "features.npz", train=x, test=x[:10], y_train=y, y_test=y[:10])
    feats = open_features(run)
    assert isinstance(feats["train"], np.memmap) and not feats["train"].flags.writeable
    with np.load(run / "features.npz") as ref:
        for key in ref.files:
            np.testing.assert_array_equal(feats[key], ref[key])
    np.savez_compressed(run / "features.npz", train=x, test=x[:10], y_train=y, y_test=y[:10])
    np.testing.assert_array_equal(open_features(run)["train"], x)  # compressed: loaded, same values
    with zipfile.ZipFile(run / "features.npz", "w") as fh:
        fh.writestr("train.npy", b"garbage")
    with pytest.raises(HardpairsError, match="unreadable.*python -m core probe"):
        open_features(run)


def _write_shards(run, feats, world):
    """``run/features/`` as ``world`` ranks of a sharded extraction write it (index last)."""
    folder = run / "features"
    for split in ("train", "test"):
        for r in range(world):
            save_npy(folder / f"{split}_rank{r}.npy", feats[split][shard_rows(len(feats[split]), world, r)])
        save_npy(folder / f"y_{split}.npy", feats[f"y_{split}"])
    sizes = {"train": len(feats["train"]), "test": len(feats["test"])}
    write_json(folder / "index.json", shard_index(world, feats["train"].shape[1], sizes))


def test_one_reader_for_both_formats_and_one_key(tmp_path):
    """A run with only shards reads like its features.npz; the newer format wins; the key follows the bytes."""
    x, y = structured(400)
    feats = {"train": x, "test": x[:40], "y_train": y, "y_test": y[:40]}
    run = tmp_path / "r"
    write_json(run / "config.json", {})
    assert feature_source(run) is None and feature_labels(run) is None
    with pytest.raises(HardpairsError, match="no features.npz yet.*python -m core probe"):
        open_features(run)
    _write_shards(run, feats, world=3)
    sharded = open_features(run)
    assert feature_source(run) == run / "features" and isinstance(sharded["train"], ShardedArray)
    for key, ref in feats.items():
        np.testing.assert_array_equal(np.asarray(sharded[key]), ref)
    np.testing.assert_array_equal(feature_labels(run), y)
    key = features_fingerprint(run)
    save_npy(run / "features" / "train_rank1.npy", x[shard_rows(400, 3, 1)] * 2)  # a re-extraction: other bytes
    assert features_fingerprint(run) != key
    save_npz(run / "features.npz", **feats)  # newer: the npz is read now
    assert feature_source(run) == run / "features.npz" and isinstance(open_features(run)["train"], np.memmap)
    np.testing.assert_array_equal(open_features(run)["train"], x)
    assert features_fingerprint(run) not in (key, "")
    one = tmp_path / "one"
    write_json(one / "config.json", {})
    _write_shards(one, feats, world=1)  # one shard: the memory-mapped .npy itself
    assert isinstance(open_features(one)["train"], np.memmap)


def test_scores_of_a_sharded_run_equal_the_npz_run(tmp_path):
    from core.runs.analysis import scores_for_run

    x, y = structured(600)
    feats = {"train": x, "test": x[:20], "y_train": y, "y_test": y[:20]}
    runs = {}
    for name in ("npz", "shards"):
        run = runs[name] = tmp_path / name
        write_json(run / "config.json", {"pos_high": 0.15, "pos_low": 0.22})
        if name == "npz":
            save_npz(run / "features.npz", **feats)
        else:
            _write_shards(run, feats, world=2)
        scores_for_run(run, knn="exact")
    a, b = (pd.read_csv(runs[n] / "scores.csv") for n in ("npz", "shards"))
    pd.testing.assert_frame_equal(a, b)


def _run(tmp_path, n=1500):
    x, y = structured(n)
    run = tmp_path / "r"
    write_json(run / "config.json", {"pos_high": 0.15, "pos_low": 0.22})
    write_json(run / "manifest.json", {"classes": [f"c{i}" for i in range(5)]})
    save_npz(run / "features.npz", train=x, test=x[:5], y_train=y, y_test=y[:5])
    return run


def test_cli_knn_flag_recorded_in_every_output(tmp_path, capsys):
    run = _run(tmp_path)
    code, res = run_cli(["score", "--run-dir", run, "--k", "5", "--knn", "approx"], capsys)
    assert code == 0 and res["knn"]["method"] == "approx" and res["knn"]["knn_recall"] >= 0.95
    stored = json.loads((run / "scores.json").read_text())
    assert stored["knn"]["method"] == "approx" and stored["params"]["knn"] == "approx"
    graph_info = json.loads((run / "knn_graph.json").read_text())
    assert graph_info["probe_other"] == res["knn"]["knn_probe_other"]
    code, res = run_cli(["pairs", "--run-dir", run, "--k", "5", "--top", "20", "--knn", "approx"], capsys)
    assert code == 0 and res["knn"]["method"] == "approx" and res["t_hi"] == stored["t_hi"]  # reused
    assert res["knn"]["knn_method"] == "screen-ivf" and res["knn"]["knn_recall"] == stored["knn"]["knn_recall"]
    with np.load(run / "class_pairs.npz") as z:
        assert str(z["knn_method"]) == "approx"
    code, res = run_cli(["pairs", "--run-dir", run, "--k", "5", "--top", "20", "--knn", "exact"], capsys)
    assert code == 0 and res["knn"] == {"method": "exact"}
    with np.load(run / "class_pairs.npz") as z:
        assert str(z["knn_method"]) == "exact"
    code, res = run_cli(["score", "--run-dir", run, "--k", "5", "--knn", "fast"], capsys)
    assert code == 2


def test_fit_indices_keeps_included():
    idx = fit_indices(1000, 100, np.array([3, 999, 3]), seed=0)
    assert {3, 999} <= set(idx.tolist()) and 100 <= len(idx) <= 102 and (np.diff(idx) > 0).all()
    np.testing.assert_array_equal(fit_indices(50, 100), np.arange(50))
    with pytest.raises(HardpairsError, match="fit-include"):
        fit_indices(10, 5, np.array([10]))


def test_place_by_neighbours_is_weighted_mean():
    x, _ = structured(700)
    fit, rest = np.arange(0, 700, 2), np.arange(1, 700, 2)
    coords = np.random.default_rng(0).standard_normal((len(fit), 2)).astype(np.float32)
    got = place_by_neighbours(x[fit], coords, x * 3.0, rest, k=4)  # raw features: normalised inside
    s = x[rest] @ x[fit].T
    top = np.argsort(-s, axis=1)[:, :4]
    st = np.take_along_axis(s, top, axis=1)
    w = np.exp((st - st[:, :1]) / 0.02)
    want = (w[:, :, None] * coords[top]).sum(1) / w.sum(1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_l2_normalise_blocks_equal_whole(monkeypatch):
    import core.analysis.neighbors as nb

    x = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
    whole = l2_normalise(x)
    monkeypatch.setattr(nb, "_NORM_BLOCK", 7)
    np.testing.assert_array_equal(nb.l2_normalise(x), whole)
    with pytest.raises(HardpairsError, match="constant"):
        nb.l2_normalise(np.ones((20, 4), np.float32))
